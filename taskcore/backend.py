"""The storage seam: the Backend abstract base, with its value types and wake-ups re-exported.

The value types (:class:`WorkerId`, :class:`Outcome`, :class:`Capabilities`, ...) live in
:mod:`taskcore.protocol_types` and the wake-up classes in :mod:`taskcore.wakeup`; import them
from here, as drivers and the core do.

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
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import ClassVar, Self

from taskcore.errors import InvalidArgument
from taskcore.jsdate import js_round
from taskcore.protocol_types import (
    Capabilities,
    CurrentJob,
    DelayedJob,
    FailureFactory,
    Outcome,
    Reservation,
    WorkerId,
    WorkerPing,
)
from taskcore.wakeup import PollingWakeUp, QueueWakeUp, WakeUp

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

    async def worker_channel(self) -> Backend:
        """What one worker's loop calls :meth:`reserve`, :meth:`complete` and
        :meth:`complete_and_reserve` on, until it hands it to :meth:`release_worker_channel`.

        The default is this backend. A driver may return a view of itself bound to resources
        of that worker's alone (the Redis driver: one connection held for the worker, so a
        job's step skips the connection pool); the view reads and writes the same storage,
        with the same contracts, and is only used for those three calls.
        """
        return self

    async def release_worker_channel(self, channel: Backend) -> None:
        """Give back what :meth:`worker_channel` took (the default holds nothing)."""
        return None

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

    async def queues_with_jobs(self, *, all_up_to: int = 0) -> list[str]:
        """Names of the known queues holding at least one job now, sorted as
        :meth:`list_queues`; or every known queue, empty ones too, when at most ``all_up_to``
        are known. One call gives a wildcard worker its queues either way
        (:func:`taskcore.queue_order.queues_to_work`). Jobs any producer pushed count (a
        node-resque ``RPUSH`` too): the answer is read from the queues, not kept beside them.

        The default asks :meth:`queue_length` of each known queue; drivers override it with
        one round trip."""
        known = await self.list_queues()
        if len(known) <= all_up_to:
            return known
        return [q for q in known if await self.queue_length(q) > 0]

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

    async def clear_failures(self) -> int:
        """Remove every failure record; returns how many were removed. Counters do not move.

        Drivers override it with one atomic step (Redis: ``DEL`` of the list; PostgreSQL: one
        ``DELETE``). The default removes the records present at the call one by one, each
        removal atomic, so a record added meanwhile may stay."""
        removed, left = 0, await self.failure_count()
        while left > 0:
            page = await self.failures(0, min(left, 100) - 1)
            if not page:
                break
            left -= len(page)
            for record in page:
                removed += await self.remove_failure(record)
        return removed

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
