"""The value types of the storage protocol (:class:`~taskcore.backend.Backend`).

Frozen dataclasses the core and every driver exchange: who a worker is (:class:`WorkerId`), what
a reserve returned (:class:`Reservation`), a worker's current job (:class:`CurrentJob`) and
heartbeat (:class:`WorkerPing`), a promoted delayed job (:class:`DelayedJob`), how a job ended
(:class:`Outcome`), what a driver can do (:class:`Capabilities`), and the callback that builds a
failure record inside a driver's atomic step (:data:`FailureFactory`). Import them from
:mod:`taskcore.backend`, which re-exports every one. Units: whole unix **seconds** throughout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Capabilities",
    "CurrentJob",
    "DelayedJob",
    "FailureFactory",
    "Outcome",
    "Reservation",
    "WorkerId",
    "WorkerPing",
]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a driver can do, declared as data on the driver class.

    The core and the conformance suite read these flags; nothing ever checks a driver's name.
    """

    resque_wire_format: bool = False
    """Data is in node-resque 9's Redis key layout, readable by node-resque and resque-web."""

    shared_across_processes: bool = True
    """Several OS processes can share the storage (False for an in-process server)."""

    enqueue_notifications: bool = False
    """:meth:`~taskcore.backend.Backend.wake_up` returns within milliseconds of a push to a
    watched queue (server-side notification). Without it the core falls back to polling."""

    single_call_complete_and_reserve: bool = False
    """:meth:`~taskcore.backend.Backend.complete_and_reserve` is one round trip, not the
    composed default."""

    binary_payloads: bool = False
    """Stored strings may carry any bytes (invalid UTF-8, NUL), as a Redis value can.

    Such bytes reach Python as a ``str`` whose undecodable bytes are lone surrogates
    (``errors="surrogateescape"``, PEP 383) and are written back as the same bytes, so nothing
    is lost and byte-exact matching (``remove_from_queue``, ``remove_failure``) still works.
    Without this flag the storage cannot hold such text at all (PostgreSQL ``text``):
    :meth:`~taskcore.backend.Backend.push` and the other writers refuse it with
    :class:`~taskcore.errors.InvalidArgument`, writing nothing."""


@dataclass(frozen=True, slots=True)
class WorkerId:
    """A worker as resque names it: ``name`` plus the queues it works.

    ``member`` (``"<name>:<q1,q2>"``) is its entry in the workers set and the suffix of its
    current-job key. A wildcard worker has ``queues == ("*",)``.
    """

    name: str
    queues: tuple[str, ...]

    @property
    def queues_str(self) -> str:
        """The queues joined with ``","``, as written in keys and pings."""
        return ",".join(self.queues)

    @property
    def member(self) -> str:
        """The workers-set member, ``"<name>:<queues>"``."""
        return f"{self.name}:{self.queues_str}"

    @classmethod
    def parse(cls, member: str) -> WorkerId:
        """Split a workers-set member as node-resque's ``workers()`` does.

        One part is a bare name; two parts are ``name:queues``; with three or more parts the
        first two form the name (``host:pid``) and the rest, re-joined with ``":"``, the queues.
        """
        parts = member.split(":")
        if len(parts) == 1:
            return cls(parts[0], ())
        if len(parts) == 2:
            name, queues = parts
        else:
            name, queues = ":".join(parts[:2]), ":".join(parts[2:])
        return cls(name, tuple(q for q in queues.split(",") if q))


@dataclass(frozen=True, slots=True)
class Reservation:
    """A job taken from ``queue`` by :meth:`~taskcore.backend.Backend.reserve`; ``payload`` is
    byte-exact."""

    queue: str
    payload: str


@dataclass(frozen=True, slots=True)
class CurrentJob:
    """A worker's current-job record (resque's ``worker:<name>:<queues>`` value).

    ``run_at`` is the string stored when the job was reserved (a JS ``Date.toString()`` for
    node-resque and taskcore, ISO 8601 for Ruby resque); ``raw`` is the whole stored record.
    """

    worker: WorkerId
    queue: str
    payload: str
    run_at: str
    raw: str


@dataclass(frozen=True, slots=True)
class WorkerPing:
    """A worker's last heartbeat: ``time`` in whole unix seconds."""

    name: str
    queues: str
    time: int


@dataclass(frozen=True, slots=True)
class DelayedJob:
    """A delayed job: due at ``timestamp`` (whole unix seconds), bound for ``queue``."""

    timestamp: int
    queue: str
    payload: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the job a worker held ended, recorded by :meth:`~taskcore.backend.Backend.complete`.

    * ``success``: ``processed`` and ``processed:<name>`` are incremented.
    * ``failure``: ``failed`` and ``failed:<name>`` are incremented and ``failure_record`` (an
      encoded resque failure) is appended to the failed list. A failure without a record is
      counted but not listed: a plugin (Retry) has taken the job over.
    * ``skipped``: a before-perform hook stopped the job; no counter moves (node-resque's rule).
    """

    status: Literal["success", "failure", "skipped"]
    failure_record: str | None = None

    @classmethod
    def success(cls) -> Outcome:
        return cls("success")

    @classmethod
    def failure(cls, record: str | None) -> Outcome:
        return cls("failure", record)

    @classmethod
    def skipped(cls) -> Outcome:
        return cls("skipped")

    def stat_deltas(self, worker_name: str) -> dict[str, int]:
        """The counter increments this outcome makes (empty for ``skipped``)."""
        if self.status == "skipped":
            return {}
        kind = "processed" if self.status == "success" else "failed"
        return {kind: 1, f"{kind}:{worker_name}": 1}


FailureFactory = Callable[[CurrentJob], str]
"""Builds the encoded failure record for a worker's orphaned current job.

Drivers call it *inside* their atomic step (after reading the record, before writing the
failure), so the core decides the record's contents and the driver keeps the move atomic.
"""
