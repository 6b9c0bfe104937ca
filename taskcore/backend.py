"""The storage seam: the Backend abstract base, its capability flags and value types.

Everything above this module (Queue, Worker, MultiWorker, Scheduler, plugins, tasks) is written
only against :class:`Backend`. A driver subclasses it once; the core *composes* a backend and never
subclasses one.

Contract shared by every method:

* **Atomic on its own.** Each call is one Lua script / MULTI on Redis, one statement or
  transaction on PostgreSQL. A caller never sees half of a call's effect.
* **Opaque payloads.** Job payloads and failure records are strings the core encodes
  (:mod:`taskcore.codec`); drivers store and return them byte for byte.
* **Explicit time.** Methods that depend on time take ``now`` in **unix seconds** (a float), so
  the conformance suite never sleeps. Delayed-job timestamps are **whole unix seconds** (ints),
  as resque stores them. Lock TTLs are seconds, enforced by the storage server's clock.
* **Errors.** Native errors are translated into :mod:`taskcore.errors`
  (:class:`~taskcore.errors.BackendUnavailable` when the server cannot be reached).
* **Index ranges** (``start``/``stop``) are inclusive at both ends and accept negative indices
  counted from the end, exactly like Redis ``LRANGE``: ``(0, -1)`` is everything.

The no-loss invariant: from enqueue until its outcome is recorded a job is always in storage, in a
queue, in the delayed set, in a worker's current-job record or in the failed list. The methods
below move jobs between those places in single atomic steps so the invariant holds at every
instant, whichever process dies.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, Literal, Self

from taskcore.errors import InvalidArgument

__all__ = [
    "Backend",
    "Capabilities",
    "CurrentJob",
    "DelayedJob",
    "FailureFactory",
    "Outcome",
    "PollingWakeUp",
    "QueueWakeUp",
    "Reservation",
    "WakeUp",
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
    """:meth:`Backend.wake_up` returns within milliseconds of a push to a watched queue
    (server-side notification). Without it the core falls back to polling."""

    single_call_complete_and_reserve: bool = False
    """:meth:`Backend.complete_and_reserve` is one round trip, not the composed default."""

    binary_payloads: bool = False
    """Stored strings may carry any bytes (invalid UTF-8, NUL), as a Redis value can.

    Such bytes reach Python as a ``str`` whose undecodable bytes are lone surrogates
    (``errors="surrogateescape"``, PEP 383) and are written back as the same bytes, so nothing
    is lost and byte-exact matching (``remove_from_queue``, ``remove_failure``) still works.
    Without this flag the storage cannot hold such text at all (PostgreSQL ``text``):
    :meth:`Backend.push` and the other writers refuse it with
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
    """A job taken from ``queue`` by :meth:`Backend.reserve`; ``payload`` is byte-exact."""

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
    """How the job a worker held ended, recorded by :meth:`Backend.complete`.

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


class WakeUp(abc.ABC):
    """Waits for pushes to a set of queues; returned by :meth:`Backend.wake_up`.

    Usage per idle cycle: :meth:`arm`, then try to reserve, then, if nothing was reserved,
    :meth:`wait`. A push that lands after :meth:`arm` makes :meth:`wait` return at once, so no
    push between the reserve attempt and the wait is missed.
    """

    sees_foreign_pushes: bool = False
    """True when pushes made outside taskcore (node-resque, resque, a raw ``RPUSH``) wake it
    too, e.g. through Redis keyspace notifications. Otherwise only taskcore's own pushes do,
    and a worker finds other producers' jobs by polling (its ``poll_interval``)."""

    @abc.abstractmethod
    def arm(self) -> None:
        """Forget earlier notifications; later pushes to the watched queues are remembered."""

    @abc.abstractmethod
    async def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True if a watched queue was pushed to since arm()."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Stop listening. Idempotent."""


class PollingWakeUp(WakeUp):
    """The fallback for drivers without notifications: :meth:`wait` sleeps the full timeout.

    :meth:`notify` lets an in-process producer cut the wait short (used by the memory driver and
    by tests).
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def arm(self) -> None:
        self._event.clear()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def aclose(self) -> None:
        self._event.set()


class QueueWakeUp(PollingWakeUp):
    """A :class:`WakeUp` for a set of queues, fed by a driver's listener.

    Drivers with ``Capabilities.enqueue_notifications`` keep one listener per backend (Redis
    pub/sub, PostgreSQL LISTEN) and call :meth:`notify` with the queue each push names, or with
    None when pushes may have been missed (a dropped connection): then every watcher wakes.
    ``on_close`` lets the listener forget the watcher.
    """

    def __init__(self, queues: Iterable[str], on_close: Callable[[QueueWakeUp], None]) -> None:
        super().__init__()
        self.queues = frozenset(queues)
        self._on_close = on_close
        self._closed = False

    def wants(self, queue: str) -> bool:
        """True if a push to ``queue`` concerns this watcher (an empty set watches all)."""
        return not self.queues or queue in self.queues

    def notify(self, queue: str | None = None) -> None:
        if queue is None or self.wants(queue):
            super().notify()

    def arm(self) -> None:
        if not self._closed:
            super().arm()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._on_close(self)
        await super().aclose()


class Backend(abc.ABC):
    """Abstract storage for resque-shaped jobs. See the module docstring for the shared contract.

    Subclasses set :attr:`capabilities` and :attr:`namespace` and implement every abstract
    method. Methods that are not abstract are derived from abstract ones without weakening
    atomicity; drivers may override them with faster equivalents.
    """

    capabilities: ClassVar[Capabilities] = Capabilities()
    namespace: str

    # ------------------------------------------------------------------ 1. lifecycle

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and prepare storage (load scripts, create schema). Idempotent."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release connections and listeners. Idempotent; the backend can be opened again."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Round-trip to the server; raises :class:`~taskcore.errors.BackendUnavailable`."""

    async def server_time(self) -> float:
        """The storage server's clock, unix seconds (Redis ``TIME``, PostgreSQL
        ``clock_timestamp()``).

        The engine judges heartbeat ages and due times against this clock, so processes whose
        own clocks are skewed still agree (:class:`~taskcore.clock.StorageClock`). The default,
        for in-process storage, is this process's clock.
        """
        import time

        return time.time()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ 2. queues

    @abc.abstractmethod
    async def push(self, queue: str, payload: str, *, front: bool = False) -> None:
        """Append ``payload`` to the tail of ``queue`` (its head when ``front``).

        Also records ``queue`` in the set of known queues, and wakes workers watching it.
        """

    @abc.abstractmethod
    async def push_many(self, jobs: Sequence[tuple[str, str]]) -> None:
        """Append each ``(queue, payload)`` of ``jobs`` to the tail of its queue, in the order
        given, as one atomic step and one round trip: every job is written or none is.

        Jobs bound for one queue keep their relative order and follow whatever it held;
        every queue named becomes known and its watchers are woken, as by :meth:`push`. A
        job the storage cannot hold (see ``Capabilities.binary_payloads``), or a queue it
        cannot write, fails the whole batch with nothing written. An empty batch writes
        nothing.
        """

    @abc.abstractmethod
    async def reserve(
        self, queues: Sequence[str], worker: WorkerId, now: float
    ) -> Reservation | None:
        """Pop the first job of the first non-empty queue of ``queues``, in that order, and
        record it as ``worker``'s current job (with ``run_at`` derived from ``now``) in the same
        atomic step. Returns None, writing nothing, when every queue is empty.

        Concurrent reservers never receive the same job. Queues are FIFO.

        Every current-job record must stay reachable by recovery: a reserve attempt by a worker
        that is not registered (a scheduler cleaned it while it was alive) registers it again
        in the same atomic step (workers set, started time when absent, a ping at ``now``), so
        :meth:`clean_worker` and :meth:`stale_workers` see whatever it reserves.
        """

    @abc.abstractmethod
    async def complete(self, worker: WorkerId, outcome: Outcome) -> None:
        """Record the outcome of ``worker``'s current job and clear its current-job record.

        One atomic step: counters per :meth:`Outcome.stat_deltas`, the failure record (when
        there is one) appended to the failed list, the current-job record deleted.
        """

    async def complete_and_reserve(
        self, worker: WorkerId, outcome: Outcome, queues: Sequence[str], now: float
    ) -> Reservation | None:
        """:meth:`complete`, then :meth:`reserve`: a worker's whole between-jobs step.

        The default makes two calls, each atomic, so the invariant holds between them. Drivers
        that can do it in one round trip override it and set
        ``Capabilities.single_call_complete_and_reserve``.
        """
        await self.complete(worker, outcome)
        return await self.reserve(queues, worker, now)

    @abc.abstractmethod
    async def queue_length(self, queue: str) -> int:
        """Number of jobs waiting in ``queue`` (0 for an unknown queue)."""

    @abc.abstractmethod
    async def queue_range(self, queue: str, start: int, stop: int) -> list[str]:
        """Payloads of ``queue`` from ``start`` to ``stop`` inclusive, head first."""

    @abc.abstractmethod
    async def remove_from_queue(self, queue: str, payload: str, count: int = 0) -> int:
        """Remove jobs whose payload equals ``payload`` byte for byte; returns how many.

        ``count == 0`` removes all; ``count > 0`` the first ``count`` from the head;
        ``count < 0`` the last ``-count`` from the tail (Redis ``LREM``).
        """

    @abc.abstractmethod
    async def list_queues(self) -> list[str]:
        """Names of known queues, sorted. A queue stays known while empty until deleted."""

    @abc.abstractmethod
    async def delete_queue(self, queue: str) -> int:
        """Delete every job of ``queue`` and forget the queue; returns the jobs deleted."""

    async def wake_up(self, queues: Sequence[str]) -> WakeUp:
        """A :class:`WakeUp` for pushes to ``queues`` (an empty sequence means any queue).

        The default polls; drivers with ``Capabilities.enqueue_notifications`` override it.
        """
        return PollingWakeUp()

    # ------------------------------------------------------------------ 3. delayed jobs

    @abc.abstractmethod
    async def schedule(self, timestamp: int, queue: str, payload: str) -> bool:
        """Store ``payload`` to be pushed to ``queue`` at ``timestamp`` (whole unix seconds).

        resque keeps at most one copy of a payload per second: if the same payload is already
        scheduled at ``timestamp`` nothing is written and False is returned; True otherwise.
        Several different payloads (or one payload at several seconds) may share a timestamp.
        """

    @abc.abstractmethod
    async def promote_due(self, now: float, limit: int = 1000) -> list[DelayedJob]:
        """Move due delayed jobs to the tail of their queues, oldest timestamp first, FIFO
        within a timestamp; returns what was moved.

        A run-at time is when a job is *allowed* to run, never earlier. Timestamps are stored
        as JS ``Math.round`` of the requested time, so a job at ``timestamp`` may have asked for
        any time up to ``timestamp + 0.5``: due therefore means ``timestamp + 0.5 <= now``
        (``timestamp <= floor(now - 0.5)``). At most ``limit`` jobs move per call. Exactly
        once: with concurrent callers each job is moved by exactly one of them. Workers
        watching those queues are woken.
        """

    @abc.abstractmethod
    async def delayed_timestamps(self) -> list[int]:
        """Every timestamp that holds at least one delayed job, ascending (numeric order)."""

    @abc.abstractmethod
    async def delayed_timestamps_page(self, after: int | None, limit: int) -> list[int]:
        """Up to ``limit`` timestamps holding delayed jobs, ascending, each greater than
        ``after`` (from the first when None): a cursor page whose cost follows ``limit``, not
        the size of the delayed set. Page on by passing the last timestamp returned."""

    @abc.abstractmethod
    async def delayed_page(self, after: int | None, limit: int) -> list[tuple[int, list[str]]]:
        """Up to ``limit`` timestamps after ``after`` (as :meth:`delayed_timestamps_page`),
        each with its payloads in scheduling order, read in one atomic step and one round trip.
        A timestamp left with no jobs is not listed."""

    @abc.abstractmethod
    async def delayed_at(self, timestamp: int) -> list[str]:
        """Payloads scheduled at ``timestamp``, in scheduling order (empty if none)."""

    @abc.abstractmethod
    async def scheduled_at(self, payload: str) -> list[int]:
        """Timestamps at which ``payload`` (byte-exact) is scheduled, ascending."""

    @abc.abstractmethod
    async def remove_delayed(self, payload: str) -> list[int]:
        """Remove ``payload`` from every timestamp it is scheduled at; returns those
        timestamps, ascending. Timestamps left empty disappear from every view."""

    @abc.abstractmethod
    async def remove_delayed_at(self, timestamp: int) -> list[str]:
        """Remove every job scheduled at ``timestamp`` (whole unix seconds), atomically;
        returns their payloads in scheduling order (empty when none).

        The timestamp vanishes from every view (:meth:`delayed_timestamps`,
        :meth:`delayed_at`, and :meth:`scheduled_at` of each removed payload); other
        timestamps, including other copies of the same payloads, are untouched. With a
        concurrent :meth:`promote_due`, each job is either promoted or returned here, never
        both and never neither.
        """

    # ------------------------------------------------------------------ 4. locks

    @abc.abstractmethod
    async def acquire_lock(self, name: str, value: str, ttl: int) -> bool:
        """Set lock ``name`` to ``value`` expiring in ``ttl`` seconds, only if absent.

        True if this call set it. ``name`` is the key without namespace, e.g.
        ``"lock:add:math:[1,2]"`` or ``"resque_scheduler_leader_lock"``.
        """

    @abc.abstractmethod
    async def set_lock(self, name: str, value: str, ttl: int | None) -> None:
        """Set lock ``name`` to ``value`` unconditionally; ``ttl`` seconds, None for no expiry."""

    @abc.abstractmethod
    async def renew_lock(self, name: str, value: str, ttl: int) -> bool:
        """Reset the TTL of ``name`` to ``ttl`` seconds if it holds ``value``; True if renewed."""

    @abc.abstractmethod
    async def release_lock(self, name: str, value: str | None = None) -> bool:
        """Delete ``name`` (only if it holds ``value``, when given); True if deleted."""

    @abc.abstractmethod
    async def get_lock(self, name: str) -> str | None:
        """The value of an unexpired lock, or None."""

    @abc.abstractmethod
    async def lock_ttl(self, name: str) -> int | None:
        """Whole seconds left before ``name`` expires; None if absent or without expiry."""

    @abc.abstractmethod
    async def list_locks(self, prefix: str) -> dict[str, str]:
        """Every unexpired lock whose name starts with ``prefix``: ``{name: value}``.

        ``prefix`` must be non-empty (ValueError otherwise): on key-value storage locks share
        the namespace with other records, so only a lock-name prefix (``"lock:"``,
        ``"workerslock:"``, ...) selects locks alone.
        """

    @abc.abstractmethod
    async def increment_lock(self, name: str, ttl: int) -> int:
        """Increment the integer held by ``name`` and set its TTL to ``ttl`` seconds.

        An absent lock counts as -1, so the first call returns 0 (the Retry plugin's attempt
        counter, ``SETNX -1; INCR; EXPIRE``).
        """

    # ------------------------------------------------------------------ 5. workers

    @abc.abstractmethod
    async def register_worker(self, worker: WorkerId, now: float) -> None:
        """Add ``worker`` to the workers set, write its started time and a first ping."""

    @abc.abstractmethod
    async def ping_worker(self, worker: WorkerId, now: float) -> None:
        """Write ``worker``'s heartbeat: ping time = ``round(now)`` seconds."""

    @abc.abstractmethod
    async def list_workers(self) -> list[WorkerId]:
        """Every registered worker, sorted by member string."""

    @abc.abstractmethod
    async def worker_started(self, worker: WorkerId) -> int | None:
        """When ``worker`` registered, whole unix seconds; None if unknown."""

    @abc.abstractmethod
    async def current_job(self, worker: WorkerId) -> CurrentJob | None:
        """``worker``'s current-job record, or None when idle or unknown."""

    @abc.abstractmethod
    async def current_jobs(self) -> dict[WorkerId, CurrentJob | None]:
        """Every registered worker with its current job (None when idle)."""

    @abc.abstractmethod
    async def worker_pings(self) -> list[WorkerPing]:
        """Every worker heartbeat on record, registered or not, sorted by name."""

    @abc.abstractmethod
    async def clean_worker(self, name: str, failure_for: FailureFactory) -> list[CurrentJob]:
        """Remove every trace of the worker(s) called ``name``, atomically.

        Removes its workers-set entries, current-job records, started times, ping and
        per-worker counters. Each current job found is appended to the failed list as
        ``failure_for(job)`` with ``failed`` incremented, so no job is lost. Returns those jobs
        (empty when the worker was idle or unknown; no counter moves then).
        """

    async def registered_worker_pings(self) -> list[WorkerPing]:
        """The heartbeat of every registered worker that has one, sorted by name: read through
        the registrations, so the cost follows the number of workers, never the size of
        storage (the scheduler calls it on every poll). Unregistered heartbeats are left out;
        :meth:`worker_pings` lists those too. The default filters :meth:`worker_pings`."""
        names = {w.name for w in await self.list_workers()}
        return [p for p in await self.worker_pings() if p.name in names]

    async def stale_workers(self, now: float, max_age: float) -> list[WorkerPing]:
        """Heartbeats older than ``max_age`` seconds at ``now``
        (``round(now) - ping.time > round(max_age)``)."""
        from taskcore.codec import js_round

        limit = js_round(max_age)
        current = js_round(now)
        return [p for p in await self.worker_pings() if current - p.time > limit]

    # ------------------------------------------------------------------ 6. stats and failures

    @abc.abstractmethod
    async def increment_stats(self, deltas: Mapping[str, int]) -> None:
        """Add each delta to its counter (``"processed"``, ``"failed:<worker>"``, ...)."""

    @abc.abstractmethod
    async def stats(self) -> dict[str, int]:
        """Every counter: ``{"processed": 2, "failed": 1, "processed:<worker>": 2, ...}``."""

    @abc.abstractmethod
    async def push_failure(self, record: str) -> None:
        """Append an encoded failure record to the tail of the failed list."""

    @abc.abstractmethod
    async def failure_count(self) -> int:
        """Length of the failed list."""

    @abc.abstractmethod
    async def failures(self, start: int, stop: int) -> list[str]:
        """Failure records from ``start`` to ``stop`` inclusive, oldest first."""

    async def failures_after(self, cursor: str | None, limit: int) -> tuple[list[str], str]:
        """A page of the failed list: up to ``limit`` records after ``cursor`` (from the oldest
        when None), oldest first, and the cursor to pass for the next page. A page shorter
        than ``limit`` reached the end of the list (records appended later come on the next
        call with the returned cursor). The cursor is opaque text.

        A walk of these pages reads each record once, in order, and skips none that stays in
        the list while it runs, whatever others remove or append meanwhile; each page costs
        the same however long the list is. PostgreSQL pages by record id; the Redis list has
        no ids, so its cursor is a position plus digests of the last page's records, from
        which the walk finds its place again (a record removed and an identical one left
        before it is the one case it can read again). The default pages by position, which
        only holds while nothing before the cursor is removed.
        """
        start = _position_cursor(cursor)
        page = await self.failures(start, start + limit - 1) if limit > 0 else []
        return page, str(start + len(page))

    @abc.abstractmethod
    async def remove_failure(self, record: str) -> int:
        """Remove the first failure equal to ``record`` byte for byte; returns 0 or 1."""

    @abc.abstractmethod
    async def retry_failure(self, record: str, queue: str, payload: str) -> bool:
        """Remove the first failure equal to ``record`` and push ``payload`` to the tail of
        ``queue``, atomically. False, writing nothing, when ``record`` is not in the list."""

    # ------------------------------------------------------------------ 7. maintenance

    @abc.abstractmethod
    async def flush(self) -> None:
        """Delete everything in this backend's namespace, and nothing outside it."""


def _position_cursor(cursor: str | None) -> int:
    """The position held by a :meth:`Backend.failures_after` cursor of the default."""
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise InvalidArgument(
            f"cursor {cursor[:40]!r} is not one failures_after returned; pass None to start over"
        )
    return int(cursor)
