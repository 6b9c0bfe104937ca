"""Durations: every duration of the task layer and the settings is a number of SECONDS or a
:class:`~datetime.timedelta`.

The node-resque-compatible calls (``enqueue_in``, ``enqueue_at``, ``timestamps``) keep their
milliseconds and are checked by :mod:`taskcore.arguments`; everything else goes through
:func:`seconds`, so ``frequency=timedelta(minutes=5)`` and ``frequency=300`` mean the same.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from taskcore.errors import InvalidArgument

__all__ = ["Duration", "seconds"]

Duration = float | timedelta
"""A duration: a number of seconds, or a timedelta."""


def seconds(value: Any, arg: str, *, minimum: float = 0.0, inclusive: bool = True) -> float:
    """``value`` (a number of **seconds** or a ``timedelta``) as float seconds.

    Refused with :class:`~taskcore.errors.InvalidArgument` naming ``arg``: booleans (``True`` is
    not 1 second), non-numbers, NaN/infinity, and values below ``minimum`` (or equal to it when
    not ``inclusive``).
    """
    if isinstance(value, timedelta):
        result = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(
            f"{arg}: expected a number of seconds or a timedelta, got {type(value).__name__} "
            f"{value!r:.60}"
        )
    else:
        result = float(value)
    if not math.isfinite(result):
        raise InvalidArgument(f"{arg}: expected a finite number of seconds, got {value!r}")
    if result < minimum or (not inclusive and result == minimum):
        bound = ">=" if inclusive else ">"
        raise InvalidArgument(f"{arg}: must be {bound} {minimum:g} seconds, got {value!r}")
    return result
