"""Task names -> task classes: `make(name, **kwargs)` and `list_tasks()`."""

from __future__ import annotations

from ctxrnn.tasks import jarne, molap, populations, yang
from ctxrnn.tasks.base import Task

_REGISTRY: dict[str, type[Task]] = {}


def register(cls: type[Task]) -> type[Task]:
    """Adds a task class to the registry under `cls.name`."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"A task named {cls.name!r} is already registered.")
    _REGISTRY[cls.name] = cls
    return cls


for _cls in (jarne.TimeReproduction, jarne.And, jarne.Or, jarne.Xor, jarne.Not, jarne.FlipFlop,
             jarne.Oscillation, molap.DelayPro, molap.DelayAnti, molap.MemPro, molap.MemAnti,
             molap.MemDm1, molap.MemDm2, molap.ContextMemDm1, molap.ContextMemDm2,
             molap.MultiMem, populations.PerceptualDecision, populations.ContextDecision,
             populations.DelayedMatch, *yang.YANG_CLASSES):
    register(_cls)


def list_tasks() -> list[str]:
    """Names of all registered tasks."""
    return list(_REGISTRY)


def get_class(name: str) -> type[Task]:
    """The task class registered as `name`; `ValueError` listing the valid names if none."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"Unknown task {name!r}; valid names are {list_tasks()}.")
    return _REGISTRY[name]


def from_config(config: dict) -> Task:
    """Rebuilds a task from `task.get_config()`."""
    config = dict(config)
    return make(config.pop("name"), **config)


def make(name: str, **kwargs) -> Task:
    """Builds the task `name` with its constructor arguments (`dt`, `timing`, ...).

    Args:
        name: a registered name (see `list_tasks()`).
        **kwargs: the task's constructor arguments.

    Returns:
        The `Task`.

    Raises:
        ValueError: unknown `name` (the message lists the valid names) or a
            bad argument.

    Example:

    >>> task = make("xor", dt=5.0)
    >>> batch = task.generate(64, seed=0)
    """
    return get_class(name)(**kwargs)
