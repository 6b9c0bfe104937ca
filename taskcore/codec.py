"""The resque wire format: jobs, failure records, current-job records, pings. Pure functions.

Bytes matter: a job payload is the list member ``LREM`` matches and part of the key
``timestamps:<payload>``, so taskcore writes exactly what node-resque 9 writes:

* a job is ``{"class":..,"queue":..,"args":[..]}``: compact, that key order, non-ASCII raw;
* numbers as JavaScript prints them (``1.0`` -> ``1``; NaN and infinities -> ``null``);
* milliseconds become seconds with JS ``Math.round`` (``floor(x + 0.5)``), never ``round()``;
* dates in records are JS ``Date.toString()`` strings in UTC, which node-resque parses.

Records that embed a payload (current job, failure) embed it *raw*, so its bytes survive.
Decoders accept what node-resque, Ruby resque and older taskcore versions write, and raise
:class:`~taskcore.errors.MalformedPayload` with the offending bytes quoted otherwise.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from taskcore.backend import CurrentJob, WorkerId, WorkerPing
from taskcore.errors import MalformedPayload

__all__ = [
    "Failure",
    "Job",
    "decode_current_job",
    "decode_failure",
    "decode_job",
    "decode_ping",
    "dumps",
    "encode_current_job",
    "encode_failure",
    "encode_job",
    "encode_ping",
    "js_date",
    "js_round",
    "ms_to_seconds",
    "parse_date",
]


def js_round(x: float) -> int:
    """JavaScript ``Math.round``: halves round toward +infinity (``-0.5 -> 0``, ``2.5 -> 3``)."""
    return math.floor(x + 0.5)


def ms_to_seconds(ms: float) -> int:
    """Milliseconds to whole seconds as node-resque does: ``Math.round(ms / 1000)``."""
    return js_round(ms / 1000)


def _js_value(value: Any) -> Any:
    """Normalise a JSON value so Python prints it as ``JSON.stringify`` would."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer() and abs(value) < 1e21:
            return int(value)
        return value
    if isinstance(value, dict):
        return {str(k): _js_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_js_value(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """``JSON.stringify(value)``: compact, insertion order kept, non-ASCII unescaped.

    Raises TypeError for values JSON cannot carry (bytes, sets, objects): jobs carry JSON only.
    """
    return json.dumps(_js_value(value), separators=(",", ":"), ensure_ascii=False)


def _quote(raw: str) -> str:
    return raw if len(raw) <= 120 else raw[:117] + "..."


def _loads_object(raw: str | bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        raise MalformedPayload(
            f"{what} is not valid JSON ({exc}): "
            f"{_quote(text)!r}. Remove it from storage or fix its producer."
        ) from exc
    if not isinstance(value, dict):
        raise MalformedPayload(
            f"{what} must be a JSON object, got {type(value).__name__}: {_quote(str(raw))!r}"
        )
    return value


@dataclass(frozen=True, slots=True)
class Job:
    """A decoded resque job: its class name, target queue and argument list."""

    class_name: str
    queue: str
    args: list[Any] = field(default_factory=list)


def arrayify(args: Any) -> list[Any]:
    """node-resque's ``arrayify``: None -> ``[]``, a list stays, anything else -> ``[x]``."""
    if args is None:
        return []
    if isinstance(args, list | tuple):
        return list(args)
    return [args]


def encode_job(class_name: str, queue: str, args: Any = None) -> str:
    """The payload node-resque's ``enqueue`` writes: ``{"class","queue","args"}``."""
    return dumps({"class": class_name, "queue": queue, "args": arrayify(args)})


def decode_job(payload: str | bytes, default_queue: str = "") -> Job:
    """Parse a queued payload. Ruby resque omits ``queue``: ``default_queue`` fills it.

    A non-list ``args`` is wrapped as ``[args]`` (node-resque's arrayify); a cjson-mangled empty
    ``args`` object ``{}`` reads as ``[]``.
    """
    obj = _loads_object(payload, "job payload")
    cls = obj.get("class")
    if not isinstance(cls, str) or not cls:
        raise MalformedPayload(
            f'job payload has no "class" string: {_quote(str(payload))!r}. '
            'Every resque job needs {"class", "queue", "args"}.'
        )
    queue = obj.get("queue", default_queue)
    if not isinstance(queue, str):
        raise MalformedPayload(f'job payload has a non-string "queue": {_quote(str(payload))!r}')
    args = obj.get("args")
    if args == {}:
        args = []
    return Job(cls, queue, arrayify(args))


# ---------------------------------------------------------------------------- dates

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

    Returns None for anything else (callers treat an unreadable date as unknown age).
    """
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


# ---------------------------------------------------------------------------- records


def encode_current_job(run_at: str, queue: str, worker: str, payload: str) -> str:
    """A worker's current-job record, ``{"run_at","queue","worker","payload"}``.

    The key order of node-resque's ``JSON.stringify`` path; ``payload`` is embedded raw.
    """
    return (
        f'{{"run_at":{dumps(run_at)},"queue":{dumps(queue)},'
        f'"worker":{dumps(worker)},"payload":{payload}}}'
    )


def decode_current_job(raw: str | bytes, worker: WorkerId) -> CurrentJob:
    """Parse a current-job record written by taskcore, node-resque (either path) or Ruby.

    The payload keeps its stored bytes when taskcore wrote the record; records re-encoded by
    node-resque's Lua/cjson path are re-serialised compactly.
    """
    text = raw.decode() if isinstance(raw, bytes) else raw
    obj = _loads_object(text, "current-job record")
    payload_obj = obj.get("payload")
    if not isinstance(payload_obj, dict):
        raise MalformedPayload(f"current-job record has no payload object: {_quote(text)!r}")
    marker = '"payload":'
    at = text.find(marker)
    payload = text[at + len(marker) : -1] if at >= 0 and text.endswith("}") else ""
    try:
        if not payload or json.loads(payload) != payload_obj:
            payload = dumps(_uncjson(payload_obj))
    except ValueError:
        payload = dumps(_uncjson(payload_obj))
    queue = obj.get("queue") or payload_obj.get("queue") or ""
    run_at = obj.get("run_at") or ""
    return CurrentJob(worker, str(queue), payload, str(run_at), text)


def _uncjson(payload: dict[str, Any]) -> dict[str, Any]:
    """Undo cjson's damage to a job payload where it is knowable: key order and ``args: {}``."""
    out: dict[str, Any] = {}
    for key in ("class", "queue", "args"):
        if key in payload:
            out[key] = payload[key]
    out.update({k: v for k, v in payload.items() if k not in out})
    if out.get("args") == {}:
        out["args"] = []
    return out


@dataclass(frozen=True, slots=True)
class Failure:
    """A decoded failure record (resque's ``failed`` list entry)."""

    worker: str
    queue: str
    payload: dict[str, Any]
    exception: str | None
    error: str | None
    backtrace: list[str] | None
    failed_at: str
    raw: str

    @property
    def job(self) -> Job:
        """The failed job, with args normalised as :func:`decode_job` does."""
        return decode_job(dumps(self.payload), self.queue)

    @property
    def job_payload(self) -> str:
        """The failed job re-encoded in resque's canonical payload form."""
        job = self.job
        return encode_job(job.class_name, job.queue or self.queue, job.args)


def encode_failure(
    *,
    worker: str,
    queue: str,
    payload: str,
    exception: str | None,
    error: str | None,
    backtrace: Sequence[str] | None,
    failed_at: str,
) -> str:
    """A resque failure record; keys in node-resque's order
    ``worker, queue, payload, exception, error, backtrace, failed_at``.

    ``payload`` is the job's payload string, embedded raw. ``exception``/``error`` that are None
    are omitted, as ``JSON.stringify`` omits undefined.
    """
    parts = [f'"worker":{dumps(worker)}', f'"queue":{dumps(queue)}', f'"payload":{payload}']
    if exception is not None:
        parts.append(f'"exception":{dumps(exception)}')
    if error is not None:
        parts.append(f'"error":{dumps(error)}')
    parts.append(f'"backtrace":{dumps(list(backtrace) if backtrace is not None else None)}')
    parts.append(f'"failed_at":{dumps(failed_at)}')
    return "{" + ",".join(parts) + "}"


def decode_failure(raw: str | bytes) -> Failure:
    """Parse a failure record written by taskcore, node-resque or Ruby resque."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    obj = _loads_object(text, "failure record")
    payload = obj.get("payload")
    if not isinstance(payload, dict):
        raise MalformedPayload(f"failure record has no payload object: {_quote(text)!r}")
    backtrace = obj.get("backtrace")
    return Failure(
        worker=str(obj.get("worker", "")),
        queue=str(obj.get("queue", payload.get("queue", ""))),
        payload=payload,
        exception=None if obj.get("exception") is None else str(obj["exception"]),
        error=None if obj.get("error") is None else str(obj["error"]),
        backtrace=[str(x) for x in backtrace] if isinstance(backtrace, list) else None,
        failed_at=str(obj.get("failed_at", "")),
        raw=text,
    )


def encode_ping(time: int, name: str, queues: str) -> str:
    """A heartbeat, ``{"time":<unix seconds>,"name":..,"queues":..}``."""
    return f'{{"time":{int(time)},"name":{dumps(name)},"queues":{dumps(queues)}}}'


def decode_ping(raw: str | bytes, name: str = "") -> WorkerPing:
    """Parse a heartbeat; ``name`` (from the key) fills a record without one."""
    obj = _loads_object(raw, "worker ping")
    time = obj.get("time")
    if not isinstance(time, int | float):
        raise MalformedPayload(f"worker ping has no numeric time: {_quote(str(raw))!r}")
    return WorkerPing(str(obj.get("name") or name), str(obj.get("queues", "")), int(time))
