"""The resque wire format: jobs, failure records, current-job records, pings. Pure functions.

Bytes matter: a job payload is the list member ``LREM`` matches and part of the key
``timestamps:<payload>``, so taskcore writes exactly what node-resque 9 writes:

* a job is ``{"class":..,"queue":..,"args":[..]}``: compact, that key order, non-ASCII raw;
* numbers as JavaScript prints them (:func:`~taskcore.wire_json.js_number`: ``1.0`` -> ``1``,
  ``1e-05`` -> ``0.00001``); jobs refuse NaN and the infinities (``dumps`` writes ``null``);
* milliseconds become seconds with JS ``Math.round`` (``floor(x + 0.5)``), never ``round()``;
* dates in records are JS ``Date.toString()`` strings in UTC, which node-resque parses.

Records that embed a payload (current job, failure) embed it *raw*, so its bytes survive; a
failure record embeds a payload that is not a JSON object losslessly escaped
(:func:`embed_payload`). Decoders take ``str | bytes`` of any content, accept what node-resque,
Ruby resque and older taskcore versions write, and raise only
:class:`~taskcore.errors.MalformedPayload`, with the offending bytes quoted, otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from taskcore.backend import CurrentJob, WorkerId, WorkerPing
from taskcore.errors import InvalidArgument, MalformedPayload
from taskcore.jsdate import js_date, js_round, ms_to_seconds, parse_date
from taskcore.wire_json import (
    MAX_DEPTH,
    has_undecodable,
    js_number,
    original_bytes,
    quote_raw,
    read_json,
    read_text,
    write_json,
)

__all__ = [
    "Failure",
    "Job",
    "decode_current_job",
    "decode_failure",
    "decode_job",
    "decode_ping",
    "dumps",
    "embed_payload",
    "encode_current_job",
    "encode_failure",
    "encode_job",
    "encode_ping",
    "has_undecodable",
    "js_date",
    "js_number",
    "js_round",
    "ms_to_seconds",
    "original_bytes",
    "parse_date",
    "unembed_payload",
]


def dumps(value: Any) -> str:
    """``JSON.stringify(value)``: compact, insertion order kept, non-ASCII unescaped, lone
    surrogates escaped, numbers as JavaScript prints them, NaN and infinities as ``null``.

    Raises :class:`~taskcore.errors.InvalidArgument` (a ``ValueError``) naming the path for
    values JSON cannot carry (bytes, sets, objects), colliding or unusable dict keys and
    nesting deeper than 100 levels: jobs carry JSON only.
    """
    return write_json(value, strict=False)


def _loads_object(raw: str | bytes, what: str, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    value = read_json(raw, what, max_depth=max_depth)
    if not isinstance(value, dict):
        raise MalformedPayload(
            f"{what} must be a JSON object, got {_json_type(value)}: {quote_raw(raw)}. "
            "Remove it from storage or fix its producer."
        )
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


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


def _check_name(argument: str, value: Any, example: str) -> str:
    if not isinstance(value, str) or not value:
        got = repr(value) if isinstance(value, str) else f"{value!r} ({type(value).__name__})"
        raise InvalidArgument(f"{argument} must be a non-empty string, got {got}; pass {example}")
    if "\x00" in value or has_undecodable(value):
        raise InvalidArgument(
            f"{argument} {value!r} holds a NUL character or a lone surrogate, which not every "
            f"storage can hold; pass {example} without them"
        )
    return value


def encode_job(class_name: str, queue: str, args: Any = None) -> str:
    """The payload node-resque's ``enqueue`` writes: ``{"class","queue","args"}``.

    ``args`` None is ``[]``, a tuple a list, any other non-list ``[args]``. Raises
    :class:`~taskcore.errors.InvalidArgument` (a ``ValueError``), writing nothing, when
    ``class_name`` or ``queue`` is not a non-empty string (or holds NUL or a lone surrogate),
    or when ``args`` holds NaN or an infinity, a value JSON cannot carry, dict keys that are
    not str/int/float/bool/None or that collide once converted (``{1: "a", "1": "b"}``), or
    nesting deeper than 100 levels. The message names the path, e.g. ``args[0]["x"]``.
    """
    _check_name("class_name", class_name, "the job's registered name")
    _check_name("queue", queue, 'a queue name such as "default"')
    encoded_args = write_json(arrayify(args), name="args", strict=True, level=2)
    return f'{{"class":{dumps(class_name)},"queue":{dumps(queue)},"args":{encoded_args}}}'


def _job_from(obj: dict[str, Any], default_queue: str, raw: str | bytes, what: str) -> Job:
    cls = obj.get("class")
    if not isinstance(cls, str) or not cls:
        raise MalformedPayload(
            f'{what} has no "class" string: {quote_raw(raw)}. Every resque job needs '
            '{"class", "queue", "args"}: remove it from storage or fix its producer.'
        )
    queue = obj.get("queue", default_queue)
    if not isinstance(queue, str):
        raise MalformedPayload(
            f'{what} has a non-string "queue": {quote_raw(raw)}. '
            "Remove it from storage or fix its producer."
        )
    args = obj.get("args")
    if args is None or args == {}:
        args = []
    if not isinstance(args, list):
        raise MalformedPayload(
            f'{what} has "args" that is {_json_type(args)}, not an array: {quote_raw(raw)}. '
            "resque passes args as a JSON array: remove it from storage or fix its producer."
        )
    return Job(cls, queue, args)


def decode_job(payload: str | bytes, default_queue: str = "") -> Job:
    """Parse a queued payload. Ruby resque omits ``queue``: ``default_queue`` fills it.

    A missing or null ``args`` reads as ``[]``, and so does a cjson-mangled empty ``args``
    object ``{}``. Raises :class:`~taskcore.errors.MalformedPayload` and nothing else, for
    any content: not UTF-8, not JSON, not an object, nested deeper than 100 levels, no
    ``class`` string, a non-string ``queue``, or ``args`` that is not an array.
    """
    obj = _loads_object(payload, "job payload")
    return _job_from(obj, default_queue, payload, "job payload")


_WRAPPER = "malformed_payload"


def _is_wrapper(obj: Any) -> bool:
    return isinstance(obj, dict) and list(obj) == [_WRAPPER] and isinstance(obj[_WRAPPER], str)


def embed_payload(payload: str) -> str:
    """The text to embed as a failure record's ``"payload"`` for the job ``payload``.

    A payload that reads safely as a JSON object is embedded raw, byte for byte. Anything else
    (not UTF-8, not JSON, not an object, too deep) becomes ``{"malformed_payload":"<text>"}``,
    the text JSON-escaped losslessly: undecodable bytes as ``\\udcXX`` escapes (ASCII; node's
    ``JSON.parse`` reads them as lone surrogates), so :func:`unembed_payload` and
    :func:`~taskcore.wire_json.original_bytes` give back the exact stored bytes. A payload that
    is itself of that one-key shape is wrapped too, so unwrapping is never ambiguous.
    """
    try:
        obj = _loads_object(payload, "job payload")
    except MalformedPayload:
        obj = None
    if obj is not None and not _is_wrapper(obj):
        return payload
    return f'{{"{_WRAPPER}":{dumps(payload)}}}'


def unembed_payload(embedded: str) -> str:
    """The job payload :func:`embed_payload` embedded as ``embedded``, exactly."""
    try:
        obj = read_json(embedded, "embedded payload", max_depth=MAX_DEPTH + 1)
    except MalformedPayload:
        return embedded
    return str(obj[_WRAPPER]) if _is_wrapper(obj) else embedded


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
    text = read_text(raw, "current-job record")
    obj = _loads_object(text, "current-job record", MAX_DEPTH + 1)
    payload_obj = obj.get("payload")
    if not isinstance(payload_obj, dict):
        raise MalformedPayload(
            f"current-job record has no payload object: {quote_raw(text)}. "
            "Remove it from storage or fix its producer."
        )
    marker = '"payload":'
    at = text.find(marker)
    payload = text[at + len(marker) : -1] if at >= 0 and text.endswith("}") else ""
    try:
        if not payload or read_json(payload, "payload") != payload_obj:
            payload = dumps(_uncjson(payload_obj))
    except MalformedPayload:
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
        """The failed job, with args normalised as :func:`decode_job` does.

        Raises :class:`~taskcore.errors.MalformedPayload` when the payload is not a job (for
        one recorded with :func:`embed_payload`'s ``malformed_payload`` wrapper among others).
        """
        return _job_from(self.payload, self.queue, self.raw, "failed job payload")

    @property
    def job_payload(self) -> str:
        """The failed job re-encoded in resque's canonical payload form.

        Raises :class:`~taskcore.errors.MalformedPayload` as :attr:`job` does, and when the
        job names no queue.
        """
        job = self.job
        try:
            return encode_job(job.class_name, job.queue or self.queue, job.args)
        except InvalidArgument as exc:
            raise MalformedPayload(f"failed job cannot be enqueued again: {exc}") from None

    @property
    def malformed_payload(self) -> str | None:
        """The exact text of a job payload that could not be decoded when it failed (recorded
        by :func:`embed_payload`), None when the payload is a JSON object.
        :func:`~taskcore.wire_json.original_bytes` gives its bytes as they were stored."""
        return str(self.payload[_WRAPPER]) if _is_wrapper(self.payload) else None


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
    """Parse a failure record written by taskcore, node-resque or Ruby resque.

    Raises :class:`~taskcore.errors.MalformedPayload` and nothing else, for any content.
    """
    text = read_text(raw, "failure record")
    obj = _loads_object(text, "failure record", MAX_DEPTH + 1)
    payload = obj.get("payload")
    if not isinstance(payload, dict):
        raise MalformedPayload(
            f"failure record has no payload object: {quote_raw(text)}. "
            "Remove it from storage or fix its producer."
        )
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
    """Parse a heartbeat; ``name`` (from the key) fills a record without one.

    Raises :class:`~taskcore.errors.MalformedPayload` and nothing else, for any content.
    """
    obj = _loads_object(raw, "worker ping")
    time = obj.get("time")
    if not isinstance(time, int | float) or isinstance(time, bool):
        raise MalformedPayload(
            f"worker ping has no numeric time: {quote_raw(raw)}. "
            "Remove it from storage or fix its producer."
        )
    return WorkerPing(str(obj.get("name") or name), str(obj.get("queues", "")), int(time))
