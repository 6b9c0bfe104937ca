"""Checks of the arguments the Queue and task APIs take, before anything is written.

Each check returns the value in the form the caller stores, or raises
:class:`~taskcore.errors.InvalidArgument` (a ``ValueError``) with one line naming the argument,
what is wrong and what to pass. The payload itself (class, queue and args of a job) is checked by
:func:`taskcore.codec.encode_job`; these cover what never reaches the codec: timestamps, delays,
index ranges, and queue or task names used to look things up.

Sane time range: from the unix epoch (1970-01-01T00:00:00Z) to the end of year 9999
(``MAX_SECONDS``): a Redis score or a PostgreSQL timestamp beyond it is a bug in the caller
(``1e30`` ms, a seconds value multiplied twice), never a date someone means.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from taskcore.errors import InvalidArgument

__all__ = [
    "MAX_MS",
    "MAX_SECONDS",
    "check_delay_ms",
    "check_index",
    "check_limit",
    "check_name",
    "check_timestamp_ms",
    "check_timestamp_seconds",
]

MAX_SECONDS = 253_402_300_799
"""9999-12-31T23:59:59Z in unix seconds: the latest timestamp the APIs accept."""

MAX_MS = MAX_SECONDS * 1000 + 999
"""The same instant in unix milliseconds (node-resque-compatible calls take ms)."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any, arg: str, what: str) -> float:
    """``value`` as a finite float; bools and non-numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{arg}: expected {what}, got {type(value).__name__} {_shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidArgument(f"{arg}: expected {what}, got {_shown(value)} (not a finite number)")
    try:
        return float(value)
    except OverflowError:  # an int beyond a double's range: refused by the range check
        return math.inf if value > 0 else -math.inf


def _aware(value: datetime, arg: str) -> float:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgument(
            f"{arg}: got a naive datetime {value.isoformat()}; pass a timezone-aware one "
            "(e.g. datetime.now(UTC))"
        )
    return value.timestamp()


def _in_range(seconds: float, arg: str, shown: str, unit: str) -> None:
    if not 0 <= seconds <= MAX_SECONDS + 0.999:
        raise InvalidArgument(
            f"{arg}: {shown} is outside 1970-01-01..9999-12-31; pass unix {unit} "
            "(or an aware datetime) in that range"
        )


def check_timestamp_ms(value: Any, arg: str = "timestamp") -> float:
    """A point in time given as unix **milliseconds** (int or float) or an aware ``datetime``,
    returned as float milliseconds; refused outside 1970..9999, NaN/inf, bool, naive datetime."""
    if isinstance(value, datetime):
        seconds = _aware(value, arg)
        _in_range(seconds, arg, value.isoformat(), "milliseconds")
        return seconds * 1000
    ms = _number(value, arg, "unix milliseconds (int or float) or an aware datetime")
    _in_range(ms / 1000, arg, _shown(value) + " ms", "milliseconds")
    return ms


def check_timestamp_seconds(value: Any, arg: str = "timestamp") -> float:
    """As :func:`check_timestamp_ms` for a timestamp in unix **seconds**; returns seconds."""
    if isinstance(value, datetime):
        seconds = _aware(value, arg)
        _in_range(seconds, arg, value.isoformat(), "seconds")
        return seconds
    seconds = _number(value, arg, "unix seconds (int or float) or an aware datetime")
    _in_range(seconds, arg, _shown(value) + " s", "seconds")
    return seconds


def check_delay_ms(value: Any, arg: str = "delay") -> float:
    """A delay given as **milliseconds** (int or float) or a ``timedelta``, returned as float
    milliseconds; refused when negative, NaN/inf, bool, or longer than the sane time range."""
    if isinstance(value, timedelta):
        ms = value.total_seconds() * 1000
        shown = str(value)
    else:
        ms = _number(value, arg, "milliseconds (int or float) or a timedelta")
        shown = f"{_shown(value)} ms"
    if ms < 0:
        raise InvalidArgument(f"{arg}: {shown} is negative; pass a delay >= 0")
    if ms > MAX_MS:
        raise InvalidArgument(f"{arg}: {shown} reaches past year 9999; pass a shorter delay")
    return ms


def check_index(value: Any, arg: str) -> int:
    """A list index (``start``, ``stop``, ``count``): an int, negative counting from the end;
    bools, floats and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(
            f"{arg}: expected an int index (negative counts from the end), "
            f"got {type(value).__name__} {_shown(value)}"
        )
    if not -(2**63) <= value < 2**63:
        raise InvalidArgument(f"{arg}: {value} is out of the 64-bit range storage indexes use")
    return value


def check_limit(value: Any, arg: str) -> int | None:
    """An optional upper bound on how many records to look at: None (no bound) or an int >= 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument(f"{arg}: expected None or an int >= 0, got {_shown(value)}")
    return value


def check_name(value: Any, arg: str) -> str:
    """A queue, job class or task name used for a lookup: a non-empty string."""
    if not isinstance(value, str):
        raise InvalidArgument(
            f"{arg}: expected a non-empty string, got {type(value).__name__} {_shown(value)}"
        )
    if not value:
        raise InvalidArgument(f"{arg}: is empty; pass a non-empty name")
    return value
