"""The evaluation spine: sources -> preprocess -> network -> extract -> stats -> distances.

:mod:`~ttur.metrics.api` (``fid``, ``compute_stats``), :mod:`~ttur.metrics.cli` (``ttur fid``,
``stats``, ``weights``), :mod:`~ttur.metrics.sources`, :mod:`~ttur.metrics.preprocess`,
:mod:`~ttur.metrics.extract`, :mod:`~ttur.metrics.stats`, :mod:`~ttur.metrics.distances`.
"""
