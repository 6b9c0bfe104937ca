"""How the CLI writes logs: ``--log-format text`` (default) or ``json``, and ``-v``/``-vv``.

JSON lines: one object per record, with these stable keys:

* ``ts``: ISO 8601 UTC time with milliseconds (``2025-01-31T12:00:00.123Z``);
* ``level``: ``debug``/``info``/``warning``/``error``/``critical``;
* ``logger``: the logger name (``taskcore.worker``, ``taskcore.scheduler``, ...);
* ``message``: the human sentence the text format prints;
* ``event``: the taskcore event (``success``, ``failure``, ``storage_down``, ...), when the
  record comes from :mod:`taskcore.ops.logs`, with its fields as further keys: ``worker``,
  ``queue``, ``class``, ``duration`` (seconds), ``error``, ``error_class``, ``delay``
  (seconds), ``remaining_attempts``, ``count``, ``queues``, ``scheduler``, ``source``, ...;
* ``traceback``: the formatted exception, when the record has one.

Verbosity: WARNING by default (failures, storage outages, stuck workers), ``-v`` INFO (every
job outcome and lifecycle event), ``-vv`` DEBUG (polls, pings, each promoted job).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["ElapsedFormatter", "JsonFormatter", "configure_logging", "verbosity_level"]

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_RESERVED = frozenset({"ts", "level", "logger", "message", "traceback"})


def verbosity_level(verbose: int) -> int:
    """The root level for ``verbose`` ``-v`` flags: WARNING, INFO, DEBUG."""
    return logging.WARNING - 10 * max(0, min(verbose, 2))


class JsonFormatter(logging.Formatter):
    """One JSON object per record on one line; see the module docstring for the keys."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        out: dict[str, Any] = {
            "ts": f"{ts}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "taskcore", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                if key not in _RESERVED:
                    out[key] = value
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, default=repr, ensure_ascii=False)


class ElapsedFormatter(logging.Formatter):
    """``[ 1.23s] message``: seconds since ``start`` (a :func:`time.monotonic` reading); the
    demo's narration."""

    def __init__(self, start: float) -> None:
        super().__init__()
        self.start = start

    def format(self, record: logging.LogRecord) -> str:
        return f"[{time.monotonic() - self.start:5.2f}s] {record.getMessage()}"


@contextlib.contextmanager
def configure_logging(
    verbose: int = 0,
    fmt: str = "text",
    *,
    stream: TextIO | None = None,
    formatter: logging.Formatter | None = None,
) -> Iterator[logging.Handler]:
    """While the block runs, send every log record at or above ``verbose``'s level to
    ``stream`` (stderr) in ``fmt`` (``"text"`` or ``"json"``; ``formatter`` overrides both).

    The handler goes on the root logger, so the user's task loggers are formatted the same way;
    on exit it is removed and the root level restored (the CLI may run in-process, in tests).
    Nested, the inner block's handler replaces the outer one until it exits.
    """
    if fmt not in ("text", "json"):
        raise ValueError(f"log format {fmt!r}: use 'text' or 'json'")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    if formatter is None:
        formatter = JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    level = root.level
    # An enclosing configure_logging (the CLI's, around the demo's) steps aside meanwhile.
    outer = [h for h in root.handlers if getattr(h, "_taskcore_cli", False)]
    for old in outer:
        root.removeHandler(old)
    handler._taskcore_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(verbosity_level(verbose))
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for old in outer:
            root.addHandler(old)
        root.setLevel(level)
