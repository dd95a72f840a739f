"""``python -m ttur``: the ``ttur`` command."""

import sys

from .cli import main

sys.exit(main())
