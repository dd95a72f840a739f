"""The language experiment: a character-level WGAN-GP trained with TTUR, scored by n-gram Jensen-Shannon divergence.

- :mod:`ttur.text.vocab`: character vocabulary (unknown and padding symbols, JSON save/load);
- :mod:`ttur.text.corpus`: text files and folders read by line offsets, a held-out split, the batch stream;
- :mod:`ttur.text.jsd`: n-gram counts and the normalised JSD of the paper;
- :mod:`ttur.text.models`: the 1-D convolutional ResNet generator and critic;
- :mod:`ttur.text.task`: :class:`~ttur.text.task.TextTask`, the training loop's ``task: text``.
"""

from .corpus import TextCorpus, TextStream, iter_lines
from .jsd import NgramCounts, js_divergence, jsd_counts, ngram_counts, text_jsd
from .models import TextCritic, TextGenerator, build_text_models
from .vocab import Vocab

__all__ = [
    "NgramCounts", "TextCorpus", "TextCritic", "TextGenerator", "TextStream", "Vocab", "build_text_models",
    "iter_lines", "js_divergence", "jsd_counts", "ngram_counts", "text_jsd",
]
