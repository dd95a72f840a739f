"""The text task's config keys and checks, without torch (``ttur train`` checks a config before heavy imports)."""

from __future__ import annotations

from ..errors import ConfigError
from ..train.taskconfig import TaskConfig

#: text-only config keys, with their defaults (the training config declares them through ``config_defaults``)
CONFIG_DEFAULTS = {
    "seq_len": 32,
    "vocab_size": 2048,
    "vocab": None,
    "vocab_lines": 100_000,
    "max_lines": 10_000_000,
    "eval_lines": 10_000,
    "eval_samples": 640,
    "jsd_n": [4, 6],
    "res_blocks": 5,
}
#: common keys the task reads, with the values used when a bare dict leaves them out
COMMON_FALLBACKS = {"batch_size": 64, "seed": 0, "z_dim": 128, "g_width": 512, "d_width": 512, "sample_count": 64}


def _check_int(cfg: dict, key: str, minimum: int = 1, null: bool = False) -> None:
    v = cfg[key]
    if null and v is None:
        return
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise ConfigError(f"{key}: must be an integer >= {minimum}{' or null' if null else ''}, got {v!r}")


class TextConfig(TaskConfig):
    """The text task's keys and checks (see :mod:`ttur.text.task`)."""

    config_defaults = CONFIG_DEFAULTS

    @classmethod
    def check_config(cls, cfg: dict) -> None:
        """Raise ConfigError for text settings this task cannot use (fills ``jsd_n`` in as a list)."""
        c = {**COMMON_FALLBACKS, **CONFIG_DEFAULTS, **cfg}
        if not isinstance(c.get("dataset"), str) or not c["dataset"]:
            raise ConfigError("dataset: the text task needs a corpus (a text file or folder of text files)")
        for key in ("seq_len", "vocab_size", "vocab_lines", "eval_samples", "res_blocks", "z_dim", "batch_size",
                    "g_width", "d_width", "sample_count", "eval_lines"):
            _check_int(c, key)
        _check_int(c, "max_lines", null=True)
        if c["vocab_size"] < 3:
            raise ConfigError(f"vocab_size: at least 3 (unknown, padding, one character), got {c['vocab_size']}")
        if c["vocab"] is not None and not isinstance(c["vocab"], str):
            raise ConfigError(f"vocab: a vocabulary JSON file or null, got {c['vocab']!r}")
        ns = c["jsd_n"]
        ns = [ns] if isinstance(ns, int) and not isinstance(ns, bool) else ns
        if (not isinstance(ns, list | tuple) or not ns
                or any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= c["seq_len"] for n in ns)):
            raise ConfigError(f"jsd_n: a list of n-gram orders between 1 and seq_len={c['seq_len']}, got {ns!r}")
        if "jsd_n" in cfg:
            cfg["jsd_n"] = list(ns)
