"""What the config validation needs to know of each task, without torch: its extra keys, its models, its checks.

``ttur train CONFIG key=value`` checks the config before anything heavy is imported, so a bad key or
value is reported at once. Each task class inherits its declarations from here
(:class:`~ttur.train.tasks.ImageTask` from :class:`ImageConfig`, ``TextTask`` from
:class:`ttur.text.config.TextConfig`).
"""

from __future__ import annotations

import importlib

from ..errors import ConfigError


class TaskConfig:
    """Base class of the config declarations of a task."""

    #: values the ``model`` key may take (None: the task checks it in ``check_config``)
    models: tuple[str, ...] | None = None
    #: extra config keys (with defaults) that this task accepts
    config_defaults: dict = {}

    @classmethod
    def check_config(cls, cfg: dict) -> None:
        """Raise ConfigError for values this task cannot use."""


class ImageConfig(TaskConfig):
    models = ("dcgan", "resnet")

    @classmethod
    def check_config(cls, cfg: dict) -> None:
        if cfg["image_size"] not in (32, 64):
            raise ConfigError(f"image_size: the image models are built for 32 or 64, got {cfg['image_size']}")


#: task name -> its config declarations (module:class); the same names as ``ttur.train.tasks.TASKS``
TASK_CONFIGS: dict[str, str] = {"image": "ttur.train.taskconfig:ImageConfig", "text": "ttur.text.config:TextConfig"}


def task_config(name: str) -> type[TaskConfig]:
    spec = TASK_CONFIGS.get(name)
    if spec is None:
        raise ConfigError(f"task: must be one of {', '.join(TASK_CONFIGS)}, got {name!r}")
    mod, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"task: {name} is not available in this installation ({e})") from e
