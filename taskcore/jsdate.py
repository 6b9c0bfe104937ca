"""Time as JavaScript and resque write it: ``Math.round`` seconds and ``Date.toString()`` dates.

The lowest layer of the wire format (the protocol's value types, the codec and the drivers use
it): milliseconds become seconds with JS ``Math.round`` (``floor(x + 0.5)``), never Python's
``round()``; dates in records are JS ``Date.toString()`` strings in UTC, which node-resque
parses; :func:`parse_date` reads those, ISO 8601 and Ruby resque's format, and returns None for
anything else, never raising: a date read from storage is hostile like everything else.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

__all__ = ["js_date", "js_round", "ms_to_seconds", "parse_date"]


def js_round(x: float) -> int:
    """JavaScript ``Math.round``: halves round toward +infinity (``-0.5 -> 0``, ``2.5 -> 3``)."""
    return math.floor(x + 0.5)


def ms_to_seconds(ms: float) -> int:
    """Milliseconds to whole seconds as node-resque does: ``Math.round(ms / 1000)``."""
    return js_round(ms / 1000)


_JS_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_JS_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_JS_DATE = re.compile(
    r"^\w{3} (?P<mon>\w{3}) (?P<day>\d{1,2}) (?P<year>\d{4}) "
    r"(?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2}) GMT(?P<sign>[+-])(?P<oh>\d{2})(?P<om>\d{2})"
)
_RUBY_DATE = re.compile(
    r"^(?P<year>\d{4})/(?P<mon>\d{2})/(?P<day>\d{2}) (?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})"
)


def js_date(ts: float) -> str:
    """``new Date(ts*1000).toString()`` in UTC, e.g.
    ``"Mon Nov 23 2026 06:18:16 GMT+0000 (Coordinated Universal Time)"``."""
    d = datetime.fromtimestamp(ts, UTC)
    return (
        f"{_JS_DAYS[d.weekday()]} {_JS_MONTHS[d.month - 1]} {d.day:02d} {d.year:04d} "
        f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} GMT+0000 (Coordinated Universal Time)"
    )


def parse_date(text: str) -> float | None:
    """Unix seconds from a JS ``Date.toString()``, ISO 8601 or Ruby ``%Y/%m/%d %H:%M:%S`` string.

    Returns None for anything else, including a date of the right shape that names no real
    instant (day 99, month 13): callers treat an unreadable date as unknown age.
    """
    try:
        return _parse_date(text)
    except (ValueError, OverflowError, OSError):
        return None


def _parse_date(text: str) -> float | None:
    m = _JS_DATE.match(text)
    if m:
        try:
            month = _JS_MONTHS.index(m["mon"]) + 1
        except ValueError:
            return None
        d = datetime(
            int(m["year"]), month, int(m["day"]), int(m["h"]), int(m["m"]), int(m["s"]), tzinfo=UTC
        )
        offset = (int(m["oh"]) * 60 + int(m["om"])) * 60
        return d.timestamp() - (offset if m["sign"] == "+" else -offset)
    m = _RUBY_DATE.match(text)
    if m:
        d = datetime(
            int(m["year"]),
            int(m["mon"]),
            int(m["day"]),
            int(m["h"]),
            int(m["m"]),
            int(m["s"]),
            tzinfo=UTC,
        )
        return d.timestamp()
    try:
        iso = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if iso.tzinfo is None:
        iso = iso.replace(tzinfo=UTC)
    return iso.timestamp()
