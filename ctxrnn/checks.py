"""Argument checks shared across ctxrnn: one message for one kind of bad value."""

from __future__ import annotations

from typing import Any

import numpy as np


def positive_int(name: str, value: Any, *, allow_none: bool = False) -> int | None:
    """`value` as an int if it is a positive integer (not a bool), else `ValueError`.

    Args:
        name: the argument's name, for the message.
        value: what was received.
        allow_none: also accept `None` (returned as is).

    Returns:
        `int(value)`, or `None`.

    Raises:
        ValueError: naming the argument, the value received and what was expected.

    Example:

    >>> positive_int("epochs", 3)
    3
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        expected = "a positive integer or None" if allow_none else "a positive integer"
        raise ValueError(f"Argument `{name}` must be {expected}; received {name}={value!r}.")
    return int(value)


def unit_fraction(name: str, value: Any, *, allow_none: bool = False) -> float | None:
    """`value` as a float if it is a number in (0, 1] (not a bool), else `ValueError`.

    Args:
        name: the argument's name, for the message.
        value: what was received.
        allow_none: also accept `None` (returned as is).

    Returns:
        `float(value)`, or `None`.

    Raises:
        ValueError: naming the argument, the value received and what was expected.

    Example:

    >>> unit_fraction("stop_at", 0.95)
    0.95
    """
    if value is None and allow_none:
        return None
    if (isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
            or not 0 < value <= 1):
        expected = "a number in (0, 1] or None" if allow_none else "a number in (0, 1]"
        raise ValueError(f"Argument `{name}` must be {expected}; received {name}={value!r}.")
    return float(value)
