"""Records that cannot be decoded, shown instead of raising.

Anything read back from storage may be hostile: another resque client, a bug or a hand-edited key
can leave a job payload, a failure record or a current-job record that the codec refuses
(:class:`~taskcore.errors.MalformedPayload`). The :class:`~taskcore.queue.Queue` inspection calls
never raise for one such record; they return it in one of these shapes, holding its text, so a
listing still shows everything else and the bad record can be looked at and removed:

* a queued or delayed payload: a :class:`MalformedJob` (a :class:`~taskcore.codec.Job` whose
  ``class_name`` is ``""``, with ``raw`` the stored text and ``reason`` the decoder's message);
* a failure record: a :class:`MalformedFailure` (a :class:`~taskcore.codec.Failure` whose
  ``payload`` is ``{"malformed_payload": <the record's text>}``, ``raw`` the stored record byte
  for byte, so ``Queue.remove_failed`` removes it; it cannot be retried);
* a current-job record in ``Queue.all_working_on`` that is not a JSON object:
  ``{"run_at", "queue", "worker", "payload"}`` as far as the driver could read them, with
  ``payload`` ``{"malformed_payload": <the payload's text>}`` when it is not a JSON object: the
  shape of the failure record the worker would get when cleaned.

The text is the stored text itself (bytes that are not UTF-8 as lone surrogates, PEP 383), so
nothing is lost; records written back to storage escape it with
:func:`taskcore.codec.embed_payload`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from taskcore import codec
from taskcore.backend import CurrentJob
from taskcore.errors import MalformedPayload

__all__ = ["MalformedFailure", "MalformedJob", "read_current", "read_failure", "read_job"]


@dataclass(frozen=True, slots=True)
class MalformedJob(codec.Job):
    """A stored job payload that is not a resque job: ``raw`` is its text, ``reason`` why.

    ``class_name`` is ``""`` and ``args`` ``[]``; ``queue`` is where it was read from (``""``
    for a delayed payload).
    """

    raw: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class MalformedFailure(codec.Failure):
    """A failed-list entry that is not a resque failure record; ``reason`` says why.

    ``raw`` is the stored record, byte for byte (``Queue.remove_failed`` matches it);
    ``payload`` is ``{"malformed_payload": raw}``; the other fields are empty.
    """

    reason: str = ""


def _json_object(text: str) -> dict[str, Any] | None:
    """``text`` parsed when it is a JSON object, else None."""
    try:
        value = json.loads(text)
    except Exception:  # hostile text: bad JSON, nesting too deep, ...
        return None
    return value if isinstance(value, dict) else None


def read_job(payload: str, queue: str = "") -> codec.Job:
    """:func:`codec.decode_job`, or a :class:`MalformedJob` holding ``payload``."""
    try:
        return codec.decode_job(payload, queue)
    except MalformedPayload as exc:
        return MalformedJob("", queue, [], raw=payload, reason=str(exc))


def read_failure(raw: str) -> codec.Failure:
    """:func:`codec.decode_failure`, or a :class:`MalformedFailure` holding ``raw``."""
    try:
        return codec.decode_failure(raw)
    except MalformedPayload as exc:
        return MalformedFailure(
            worker="",
            queue="",
            payload={"malformed_payload": raw},
            exception=None,
            error=None,
            backtrace=None,
            failed_at="",
            raw=raw,
            reason=str(exc),
        )


def read_current(current: CurrentJob) -> dict[str, Any]:
    """A current-job record as a dict: the stored JSON object, or (when the record is not one)
    the fields the driver read, with a payload that is not a JSON object shown as
    ``{"malformed_payload": <its text>}``."""
    record = _json_object(current.raw)
    if record is not None:
        return record
    payload = _json_object(current.payload)
    return {
        "run_at": current.run_at,
        "queue": current.queue,
        "worker": current.worker.name,
        "payload": payload if payload is not None else {"malformed_payload": current.payload},
    }
