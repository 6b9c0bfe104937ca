"""Reading current-job records, whatever their payload holds.

taskcore writes ``{"run_at":..,"queue":..,"worker":..,"payload":<raw payload>}`` with the payload
embedded raw (``worker_step.lua``). Payloads are opaque, so a payload that is not JSON makes the
record invalid JSON; such a record is still read field by field here, so the job can be failed
and its worker cleaned instead of being stuck behind an unreadable record.
"""

from __future__ import annotations

import json

from taskcore.backend import CurrentJob, WorkerId
from taskcore.codec import decode_current_job
from taskcore.errors import MalformedPayload

__all__ = ["read_current_job"]

_decoder = json.JSONDecoder()


def _split_taskcore_record(raw: str) -> tuple[str, str, str] | None:
    """``(run_at, queue, payload)`` of a record in taskcore's exact layout, else None."""
    fields: list[str] = []
    at = 0
    for name in ("run_at", "queue", "worker"):
        label = ("{" if not fields else ",") + f'"{name}":'
        if not raw.startswith(label, at):
            return None
        try:
            value, at = _decoder.raw_decode(raw, at + len(label))
        except ValueError:
            return None
        if not isinstance(value, str):
            return None
        fields.append(value)
    label = ',"payload":'
    if not raw.startswith(label, at) or not raw.endswith("}"):
        return None
    return fields[0], fields[1], raw[at + len(label) : -1]


def read_current_job(raw: str, worker: WorkerId) -> CurrentJob:
    """Decode a current-job record; one holding a non-JSON payload keeps its payload bytes.

    Raises :class:`~taskcore.errors.MalformedPayload` for records in no known layout.
    """
    try:
        return decode_current_job(raw, worker)
    except MalformedPayload:
        parts = _split_taskcore_record(raw)
        if parts is None:
            raise
    run_at, queue, payload = parts
    return CurrentJob(worker, queue, payload, run_at, raw)
