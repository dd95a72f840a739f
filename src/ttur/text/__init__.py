"""The language experiment: a character-level WGAN-GP trained with TTUR, scored by n-gram Jensen-Shannon divergence.

- :mod:`ttur.text.vocab`: character vocabulary (unknown and padding symbols, JSON save/load);
- :mod:`ttur.text.corpus`: text files and folders read by line offsets, a held-out split, the batch stream;
- :mod:`ttur.text.jsd`: n-gram counts and the normalised JSD of the paper;
- :mod:`ttur.text.models`: the 1-D convolutional ResNet generator and critic;
- :mod:`ttur.text.task`: :class:`~ttur.text.task.TextTask`, the training loop's ``task: text``.
"""

from .._util import lazy_attributes

#: public name -> module (imported on first use, so ``ttur jsd`` and config checks stay light)
_LAZY = {
    "TextCorpus": ".corpus", "TextStream": ".corpus", "iter_lines": ".corpus",
    "NgramCounts": ".jsd", "js_divergence": ".jsd", "jsd_counts": ".jsd", "ngram_counts": ".jsd", "text_jsd": ".jsd",
    "TextCritic": ".models", "TextGenerator": ".models", "build_text_models": ".models", "Vocab": ".vocab",
}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


__all__ = [
    "NgramCounts", "TextCorpus", "TextCritic", "TextGenerator", "TextStream", "Vocab", "build_text_models",
    "iter_lines", "js_divergence", "jsd_counts", "ngram_counts", "text_jsd",
]
