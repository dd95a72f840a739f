"""Training configurations: plain dicts of values, bundled as YAML files in ``ttur/configs``.

``load_config(name_or_path, overrides)`` reads a bundled config by name (``"quickstart"``,
``"dcgan-cifar10-ttur"``) or any YAML file, applies ``key=value`` overrides (values parsed as YAML
scalars: ``lr_d=1e-4``, ``betas_d=[0.5,0.999]``, ``fid_ref=null``), fills in defaults and checks
every value. Unknown keys and bad values raise :class:`ttur.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import yaml

from ..errors import ConfigError
from ..options import CONFIG_NUMBERS, check_config_number

#: every key a config may have, with its default
DEFAULTS: dict = {
    "description": "",
    "task": "image",
    "model": "dcgan",            # image: dcgan | resnet (WGAN-GP "Good" ResNet); each task names its models
    "dataset": "shapes",         # anything ttur.images.training.open_training_data reads
    "dataset_length": None,      # number of training images (shapes: how many to draw; files: the first N)
    "image_size": 32,
    "crop": None,                # centre crop in pixels before resizing (CelebA: 108)
    "resample": "bicubic",
    "loss": "gan",               # gan | wgan-gp
    "gp_weight": 10.0,
    "d_steps": 1,                # discriminator (critic) updates per generator update
    "steps": 1000,               # generator updates
    "batch_size": 64,            # global batch (split over the processes of a distributed run)
    "lr_d": 1e-4,
    "lr_g": 1e-4,
    "betas_d": [0.5, 0.999],
    "betas_g": [0.5, 0.999],
    "lr_decay": "none",          # none | linear (to 0 at `steps`)
    "lr_decay_extend": "continue",  # a resume with more steps: continue (from the rate reached) | replan
    "z_dim": 100,
    "g_width": 64,               # DCGAN gf_dim / ResNet DIM of the generator
    "d_width": 64,
    "fid_every": 0,              # 0: no monitoring
    "fid_samples": 10000,
    "fid_ref": None,             # reference statistics .npz; null: computed once from the training data
    "fid_ref_samples": 10000,    # training images behind computed reference statistics
    "fid_features": "auto",      # auto | inception | name of a small extractor
    "fid_batch_size": 100,
    "seed": 0,
    "device": "auto",
    "threads": None,             # CPU threads for torch (null: torch's default); 1 is fastest on a busy machine
    "amp": False,                # CUDA only: autocast (bfloat16/float16) + GradScaler
    "channels_last": False,      # CUDA only: channels-last memory format
    "sample_every": 500,
    "sample_count": 64,
    "checkpoint_every": 1000,
    "log_every": 50,
}

_CHOICES = {
    "loss": ("gan", "wgan-gp"),
    "lr_decay": ("none", "linear"),
    "lr_decay_extend": ("continue", "replan"),
    "resample": ("bicubic", "bilinear", "lanczos", "box", "nearest"),
}
_BOOL = ("amp", "channels_last")


def config_dir():
    return importlib.resources.files("ttur") / "configs"


def list_configs() -> dict[str, str]:
    """Bundled config names and their one-line descriptions, sorted by name."""
    out = {}
    for f in sorted(config_dir().iterdir(), key=lambda p: p.name):
        if f.name.endswith(".yaml"):
            try:
                d = yaml.safe_load(f.read_text()) or {}
            except yaml.YAMLError:  # pragma: no cover - bundled files are tested
                d = {}
            out[f.name[:-5]] = str(d.get("description", "")).strip().splitlines()[0] if d.get("description") else ""
    return out


def _read(name_or_path: str | Path) -> tuple[dict, str]:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists() or "/" in str(name_or_path):
        if not p.is_file():
            raise ConfigError(f"{p}: no such config file")
        text, where = p.read_text(), str(p)
    else:
        f = config_dir() / f"{name_or_path}.yaml"
        if not f.is_file():
            names = ", ".join(list_configs())
            raise ConfigError(f"{name_or_path}: no such bundled config (bundled: {names}; or give a .yaml path)")
        text, where = f.read_text(), f"{name_or_path}.yaml"
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML ({str(e).splitlines()[0]})") from e
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping of keys to values, got {type(d).__name__}")
    return d, where


def parse_override(item: str) -> tuple[str, object]:
    """``"key=value"`` -> (key, value parsed as a YAML scalar or flow list)."""
    if "=" not in item:
        raise ConfigError(f"{item!r}: overrides are key=value")
    key, _, text = item.partition("=")
    key = key.strip()
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"{key}: cannot parse {text!r} ({str(e).splitlines()[0]})") from e
    return key, value


def load_config(name_or_path: str | Path | dict, overrides: list[str] | dict | None = None) -> dict:
    """A complete, checked config: bundled name, YAML path or dict, plus ``key=value`` overrides."""
    if isinstance(name_or_path, dict):
        raw, where = dict(name_or_path), "config"
    else:
        raw, where = _read(name_or_path)
    if isinstance(overrides, dict):
        items = list(overrides.items())
    else:
        items = [parse_override(o) for o in (overrides or [])]
    for k, v in items:
        raw[k] = v
    return validate(raw, where)


def _task_cls(task: str):
    from .taskconfig import task_config  # the task's declarations only: no torch before the config is checked

    return task_config(task)


def task_defaults(task: str) -> dict:
    """Extra keys (with defaults) that a task class declares in ``config_defaults``."""
    return dict(getattr(_task_cls(task), "config_defaults", {}) or {})


def _num(key: str, v, kind):
    """A number of a list value (betas): finite, of ``kind``."""
    from ..options import Number, check_number

    return check_number(key, v, Number(kind), error=ConfigError)


def validate(raw: dict, where: str = "config") -> dict:
    """Fill defaults, refuse unknown keys, check and normalise every value."""
    task = raw.get("task", DEFAULTS["task"])
    if not isinstance(task, str):
        raise ConfigError(f"task: expected a name, got {task!r}")
    extra = task_defaults(task)
    known = {**DEFAULTS, **extra}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown config key in {where}")
    cfg = {**known, **raw}
    models = getattr(_task_cls(task), "models", None)  # each task names the models it builds
    if models and cfg["model"] not in models:
        raise ConfigError(f"model: must be one of {', '.join(models)} for task {task}, got {cfg['model']!r}")
    for k, choices in _CHOICES.items():
        if cfg[k] not in choices:
            raise ConfigError(f"{k}: must be one of {', '.join(choices)}, got {cfg[k]!r}")
    for k in CONFIG_NUMBERS:  # the one table of numbers: finite, integral where it must be, in range
        if k in cfg:
            cfg[k] = check_config_number(k, cfg[k])
    for k in ("betas_d", "betas_g"):
        b = cfg[k]
        if not isinstance(b, list | tuple) or len(b) != 2:
            raise ConfigError(f"{k}: expected two numbers [beta1, beta2], got {b!r}")
        b = [_num(k, x, float) for x in b]
        if not all(0.0 <= x < 1.0 for x in b):
            raise ConfigError(f"{k}: betas must lie in [0, 1), got {b}")
        cfg[k] = b
    for k in _BOOL:
        if not isinstance(cfg[k], bool):
            raise ConfigError(f"{k}: expected true or false, got {cfg[k]!r}")
    if not isinstance(cfg["dataset"], str) or not cfg["dataset"]:
        raise ConfigError(f"dataset: expected a name or path, got {cfg['dataset']!r}")
    if cfg["fid_ref"] is not None and not isinstance(cfg["fid_ref"], str):
        raise ConfigError(f"fid_ref: expected a statistics file path or null, got {cfg['fid_ref']!r}")
    if not isinstance(cfg["device"], str):
        raise ConfigError(f"device: expected a device name (auto, cpu, cuda, cuda:1), got {cfg['device']!r}")
    if not isinstance(cfg["description"], str):
        cfg["description"] = str(cfg["description"])
    fe = cfg["fid_features"]
    if not isinstance(fe, str) and not hasattr(fe, "forward") and not callable(fe):
        raise ConfigError(f"fid_features: expected auto, inception or an extractor name, got {fe!r}")
    check = getattr(_task_cls(task), "check_config", None)
    if check is not None:
        check(cfg)
    return cfg


def dump_config(cfg: dict) -> str:
    """YAML text of a resolved config (objects given in Python, e.g. an extractor module, by name)."""
    out = {}
    for k, v in cfg.items():
        out[k] = v if v is None or isinstance(v, str | int | float | bool | list | dict) else type(v).__name__
    return yaml.safe_dump(out, sort_keys=False, default_flow_style=None)
