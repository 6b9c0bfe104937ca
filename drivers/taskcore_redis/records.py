"""Reading worker records (current jobs, pings, counters) whatever they hold.

Anything read from Redis is hostile: another resque client, a bug or a hand-edited key can put
any bytes in any key. The readers here never raise on a record's contents, so one bad record
can neither stop recovery (``clean_worker``) nor hide the other records from a listing; each
states what it returns for a record it cannot decode.

taskcore writes ``{"run_at":..,"queue":..,"worker":..,"payload":<raw payload>}`` with the payload
embedded raw (``worker_step.lua``). Payloads are opaque, so a payload that is not JSON makes the
record invalid JSON; such a record is still read field by field here, so the job can be failed
and its worker cleaned instead of being stuck behind an unreadable record.
"""

from __future__ import annotations

import json

from taskcore.backend import CurrentJob, WorkerId, WorkerPing
from taskcore.codec import decode_current_job, decode_ping

__all__ = ["read_current_job", "read_integer", "read_ping"]

_decoder = json.JSONDecoder()

_DECODE_ERRORS = (ValueError, RecursionError, TypeError, OverflowError)
"""What decoding hostile text can raise (MalformedPayload is a ValueError here too, or
derived from one; RecursionError from JSON nested thousands deep)."""


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
        except _DECODE_ERRORS:
            return None
        if not isinstance(value, str):
            return None
        fields.append(value)
    label = ',"payload":'
    if not raw.startswith(label, at) or not raw.endswith("}"):
        return None
    return fields[0], fields[1], raw[at + len(label) : -1]


def read_current_job(raw: str, worker: WorkerId) -> CurrentJob:
    """Decode a current-job record; never raises, and never loses a byte of it.

    * A record the codec decodes (taskcore's, node-resque's, Ruby's) is returned as decoded.
    * A record in taskcore's exact layout whose payload does not decode (not JSON, not an
      object, nested too deep, undecodable bytes) keeps ``run_at``, ``queue`` and the payload's
      exact text.
    * Anything else (not JSON at all, an unknown shape): ``payload`` and ``raw`` are both the
      whole record, ``queue`` and ``run_at`` are empty.

    ``raw`` is always the whole stored record.
    """
    try:
        return decode_current_job(raw, worker)
    except Exception:  # any failure to decode falls back to the layouts below
        parts = _split_taskcore_record(raw)
    if parts is None:
        return CurrentJob(worker, "", raw, "", raw)
    run_at, queue, payload = parts
    return CurrentJob(worker, queue, payload, run_at, raw)


def read_ping(raw: str, name: str) -> WorkerPing:
    """The heartbeat stored under ``worker:ping:<name>``; ``name`` (from the key) is the name.

    The key's name wins over a name in the record: it is the key :meth:`clean_worker` deletes.
    A record that cannot be read (not JSON, no numeric ``time``, a time out of range) reads as
    ``WorkerPing(name, "", 0)``: a ping at the epoch, stale for every ``max_age``, so the
    scheduler cleans that worker (deleting the bad key and recovering any job it held) instead
    of never judging it.
    """
    try:
        ping = decode_ping(raw, name)
        return WorkerPing(name, ping.queues, int(ping.time))
    except Exception:  # any failure to decode reads as the oldest ping
        return WorkerPing(name, "", 0)


def read_integer(raw: str | None) -> int | None:
    """A decimal integer as Redis ``INCRBY`` keeps it (a counter, a started time); None when
    absent or not an integer."""
    if raw is None:
        return None
    text = raw.strip()
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 20:
        return None
    return int(text)
