"""The scheduler: promotes due delayed jobs and recovers stuck workers, as one elected leader.

Any number of schedulers may run; the one holding the ``resque_scheduler_leader_lock`` lock
(value: its name, TTL ``leader_lock_timeout`` seconds) does the work. While it runs, the leader
renews the lock on its own timer, every ``leader_lock_timeout / 3`` seconds, so a slow poll never
lets it expire; each poll also takes the lock when it is free. When the leader ends it releases
the lock, so another takes over at its next poll; when the leader dies the lock expires and
another takes over within ``leader_lock_timeout + timeout`` seconds. This matches node-resque's
lock, so node-resque and taskcore schedulers elect one leader between them.

One clock for everybody: without an injected ``clock`` the scheduler reads time as
:class:`~taskcore.clock.StorageClock` (the storage server's clock, re-measured on each poll
when stale), so ping ages and due times are judged on the clock the workers' pings are written
with, whatever this machine's clock says.

Recovery never stops at one bad record: promotion, the stuck-worker pass and
``retry_stuck_jobs`` each run even when another failed (``error`` is emitted for the failure),
and each stuck worker is cleaned on its own. Only a storage outage
(:class:`~taskcore.errors.BackendUnavailable`) ends a poll early. After an outage, a worker's
last ping counts as no older than the moment storage answered again, so live workers get a
chance to ping before they are judged.

Fixed against node-resque: promotion is one atomic, exactly-once storage step
(:meth:`~taskcore.backend.Backend.promote_due`), so a crash never loses a job, two leaders
never duplicate one and no enqueue plugin can silently drop it; every due timestamp is promoted
in one poll; the stuck-worker check runs on every poll, not only when nothing was due.

Events: ``start()``, ``end()``, ``poll()`` (each poll as leader, before its work),
``leader()`` (on becoming leader), ``leader_lost()`` (a renewal or a poll found the leader lock
held by another scheduler or gone while this one led; not emitted by :meth:`Scheduler.end`,
which releases the lock on purpose, nor when storage cannot be reached, which proves nothing),
``transferred_job(timestamp, job)`` (timestamp in whole seconds; ``job`` a
:class:`~taskcore.codec.Job`, or the raw payload string when it cannot be decoded),
``clean_stuck_worker(name, failures, age)`` (``failures`` a list of
:class:`~taskcore.codec.Failure`, ``age`` seconds since its last ping),
``poll_done(promoted, cleaned, duration)`` (the end of each poll as leader: ``promoted`` delayed
jobs moved to their queues and ``cleaned`` stuck workers removed by this poll, both counts,
``duration`` the poll's run time in seconds on the monotonic clock; it follows every
``transferred_job`` and ``clean_stuck_worker`` of the poll, and is not emitted when storage
became unreachable mid-poll: ``error`` is), ``clock_skew(name, seconds_ahead)`` (a worker's ping
is dated more than ``skew_tolerance`` seconds in the future; reported once until its pings are
back in range) and ``error(error)``.

Log lines: the scheduler itself logs (``taskcore.scheduler``) only a step that failed (ERROR),
storage answering again (INFO) and DEBUG notes; the operator's lines (leader gained and lost,
promotions per poll, stuck workers, clock skew), with levels from
``Settings.scheduler_logging``, come from :mod:`taskcore.ops.logs`, which every
:class:`~taskcore.app.App` attaches to these events (attach a
:class:`~taskcore.ops.logs.SchedulerLog` to a hand-built scheduler for the same lines).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable

from taskcore import codec
from taskcore.backend import Backend, WorkerPing
from taskcore.clock import Clock, StorageClock
from taskcore.errors import BackendUnavailable, ConfigError, MalformedPayload
from taskcore.events import EventEmitter, sleep_or_stop
from taskcore.queue import LEADER_LOCK, Queue
from taskcore.worker import default_name

__all__ = ["LEADER_LOCK", "Scheduler"]

logger = logging.getLogger("taskcore.scheduler")

_PROMOTE_BATCH = 1000  # delayed jobs moved per storage call


class Scheduler(EventEmitter):
    """Leader-elected promotion of delayed jobs and stuck-worker recovery.

    ``timeout`` is the poll interval and ``stuck_worker_timeout`` the heartbeat age after which a
    worker is declared dead (both seconds; None disables the stuck check);
    ``leader_lock_timeout`` is the leader lock's TTL in whole seconds. With
    ``retry_stuck_jobs`` the jobs of dead workers go back to their queues after being recorded
    as failures. A ping dated more than ``skew_tolerance`` seconds (default ``2 * timeout``)
    after ``now`` is reported as clock skew and never makes a worker stale. Give each scheduler
    a distinct ``name``: two with one name both lead. ``clock`` defaults to
    ``StorageClock(backend)`` (the ``queue``'s, when it has one on this backend).
    """

    def __init__(
        self,
        backend: Backend,
        *,
        name: str | None = None,
        timeout: float = 5.0,
        leader_lock_timeout: int = 180,
        stuck_worker_timeout: float | None = 3600.0,
        retry_stuck_jobs: bool = False,
        skew_tolerance: float | None = None,
        clock: Clock | None = None,
        queue: Queue | None = None,
    ) -> None:
        super().__init__()
        if timeout <= 0:
            raise ConfigError(f"timeout={timeout!r}: the poll interval must be > 0 seconds")
        if leader_lock_timeout < 1:
            raise ConfigError(
                f"leader_lock_timeout={leader_lock_timeout!r}: the lock TTL must be >= 1 second"
            )
        if skew_tolerance is not None and skew_tolerance < 0:
            raise ConfigError(
                f"skew_tolerance={skew_tolerance!r}: must be >= 0 seconds (or None for 2 * timeout)"
            )
        self.backend = backend
        self.name = name or default_name()
        self.timeout = timeout
        self.leader_lock_timeout = int(leader_lock_timeout)
        self.stuck_worker_timeout = stuck_worker_timeout or None
        self.retry_stuck_jobs = retry_stuck_jobs
        self.skew_tolerance = 2 * timeout if skew_tolerance is None else skew_tolerance
        if clock is None:
            shared = queue.clock if queue is not None else None
            if isinstance(shared, StorageClock) and shared.backend is backend:
                clock = shared
            else:
                clock = StorageClock(backend)
        self.clock: Clock = clock
        self.queue = queue or Queue(backend, clock=self.clock)
        self.is_leader = False
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._down = False  # the last poll could not reach storage
        self._back_at: float | None = None  # when storage answered again after an outage
        self._skewed: set[str] = set()  # workers reported as clock_skew, until back in range
        self._swept_at: float | None = None  # when every heartbeat was last read
        self._cleaned: list[codec.Failure] = []  # what the last stuck-worker pass failed
        self._promoted = 0  # delayed jobs moved by the poll in progress (poll_done)
        self._cleaned_workers = 0  # stuck workers removed by the poll in progress (poll_done)

    @property
    def running(self) -> bool:
        """True from :meth:`start` until :meth:`end`."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Poll at once, then every ``timeout`` seconds (on the injected clock), in a task;
        renew the leader lock every ``leader_lock_timeout / 3`` seconds in another."""
        if self._task is not None:
            raise ConfigError(f"scheduler {self.name!r} was already started; build a new one")
        self._stop.clear()
        self.emit("start")
        self._task = asyncio.create_task(self._run(), name=f"taskcore-scheduler {self.name}")
        self._renewer = asyncio.create_task(
            self._renew_leadership(), name=f"taskcore-scheduler-lock {self.name}"
        )

    async def end(self) -> None:
        """Stop after the poll in progress, then release the leader lock if we hold it."""
        self._stop.set()
        for task in (self._task, self._renewer):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            await self.backend.release_lock(LEADER_LOCK, self.name)
        except Exception as exc:
            self.emit("error", exc)
        self.is_leader = False
        self.emit("end")

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.poll()
            except Exception as exc:
                self.emit("error", exc)
            if await sleep_or_stop(self.clock, self.timeout, self._stop):
                return

    async def _renew_leadership(self) -> None:
        """Keep the lock while leading, independently of how long a poll takes."""
        every = self.leader_lock_timeout / 3
        while not await sleep_or_stop(self.clock, every, self._stop):
            if not self.is_leader:
                continue
            try:
                renewed = await self.backend.renew_lock(
                    LEADER_LOCK, self.name, self.leader_lock_timeout
                )
            except Exception as exc:
                self.emit("error", exc)
                continue
            if not renewed and self.is_leader:
                self._lost("its renewal")

    def _lost(self, noticed_by: str) -> None:
        """We led, and the lock is another's or gone: stop leading and say so once."""
        logger.debug(
            "scheduler %s lost the leader lock (noticed by %s); it retries at its next poll",
            self.name,
            noticed_by,
        )
        self.is_leader = False
        self.emit("leader_lost")

    async def try_for_leader(self) -> bool:
        """Take the leader lock if free, else renew it if we hold it; True if we lead now."""
        ttl = self.leader_lock_timeout
        if await self.backend.acquire_lock(LEADER_LOCK, self.name, ttl):
            return True
        return await self.backend.renew_lock(LEADER_LOCK, self.name, ttl)

    async def poll(self) -> bool:
        """One cycle: elect, then (as leader) promote every due job, clean stuck workers and
        (with ``retry_stuck_jobs``) retry the jobs this pass failed (:meth:`Queue.retry_stuck`:
        the failed list is never scanned, so a poll costs the same with 100k failures; a
        force-clean failure recorded otherwise is retried by :meth:`Queue.retry_stuck_jobs`).

        Returns whether this scheduler is the leader. A failure of the election, or storage
        being unreachable at any step, propagates (the running loop emits it as ``error``,
        counts the poll as an outage, and tries again next poll). Any other failure of one
        step is emitted as ``error`` and logged, and the next steps still run.
        """
        if isinstance(self.clock, StorageClock):
            await self.clock.refresh()
        try:
            leader = await self.try_for_leader()
        except Exception:
            self._down = True
            raise
        if self._down:
            self._down = False
            self._back_at = self.clock.now()
            logger.info(
                "scheduler %s: storage answers again; workers get %s s to ping before they are "
                "judged",
                self.name,
                self.stuck_worker_timeout,
            )
        if not leader:
            if self.is_leader:
                self._lost("a poll")
            return False
        became = not self.is_leader
        self.is_leader = True
        if became:
            self.emit("leader")
        started = time.perf_counter()
        self.emit("poll")
        self._promoted = 0
        self._cleaned_workers = 0
        await self._step("promote delayed jobs", self.promote_due())
        if self.stuck_worker_timeout is not None:
            self._cleaned = []
            await self._step("clean stuck workers", self.clean_stuck_workers())
            if self.retry_stuck_jobs:
                await self._step("retry stuck jobs", self.queue.retry_stuck(self._cleaned))
        duration = time.perf_counter() - started
        self.emit("poll_done", self._promoted, self._cleaned_workers, duration)
        return True

    async def _step(self, what: str, step: Awaitable[object]) -> None:
        try:
            await step
        except BackendUnavailable:
            self._down = True
            raise
        except Exception as exc:
            logger.error("scheduler %s could not %s: %s", self.name, what, exc)
            self.emit("error", exc)

    async def promote_due(self) -> int:
        """Move every job due at the clock's ``now`` to its queue; returns how many moved."""
        now = self.clock.now()
        moved = 0
        while True:
            batch = await self.backend.promote_due(now, _PROMOTE_BATCH)
            for delayed in batch:
                job: codec.Job | str
                try:
                    job = codec.decode_job(delayed.payload, delayed.queue)
                except MalformedPayload:
                    job = delayed.payload
                self.emit("transferred_job", delayed.timestamp, job)
            moved += len(batch)
            self._promoted += len(batch)
            if len(batch) < _PROMOTE_BATCH:
                return moved

    async def clean_stuck_workers(self) -> list[str]:
        """Force-clean every worker whose last ping is older than ``stuck_worker_timeout``.

        Age is ``round(now) - last ping`` in seconds, where the last ping counts as no older
        than the moment storage answered again after an outage. A ping dated more than
        ``skew_tolerance`` seconds ahead of ``now`` is reported (the ``clock_skew`` event,
        which ops logging writes as a WARNING) and its worker is left alone. Each dead worker's
        current job goes to the failed list ("Worker Timeout (killed manually)"), and every key
        of the worker is removed; a
        worker that cannot be cleaned is reported (``error`` event and an ERROR log) and the
        others are still cleaned. Returns the names cleaned.
        """
        if self.stuck_worker_timeout is None:
            return []
        now = self.clock.now()
        cleaned: list[str] = []
        for ping in self._stale(now, await self._pings(now)):
            try:
                failures = await self.queue.force_clean_worker(ping.name)
            except BackendUnavailable:
                raise
            except Exception as exc:
                logger.error(
                    "scheduler %s could not clean stuck worker %s: %s; cleaning the others",
                    self.name,
                    ping.name,
                    exc,
                )
                self.emit("error", exc)
                continue
            age = codec.js_round(now) - ping.time
            self._cleaned.extend(failures)
            self._cleaned_workers += 1
            self.emit("clean_stuck_worker", ping.name, failures, age)
            cleaned.append(ping.name)
        return cleaned

    async def _pings(self, now: float) -> list[WorkerPing]:
        """The heartbeats to judge: the registered workers' on most polls (read through the
        registrations: flat in the size of storage), every heartbeat on record (a keyspace
        scan on Redis, finding pings left by unregistered workers) on the first pass and then
        once per ``stuck_worker_timeout``, so such leftovers are still cleaned in time."""
        assert self.stuck_worker_timeout is not None
        if self._swept_at is None or now - self._swept_at >= self.stuck_worker_timeout:
            pings = await self.backend.worker_pings()
            self._swept_at = now
            return pings
        return await self.backend.registered_worker_pings()

    def _stale(self, now: float, pings: list[WorkerPing]) -> list[WorkerPing]:
        """The pings older than ``stuck_worker_timeout`` at ``now``; reports future-dated ones."""
        assert self.stuck_worker_timeout is not None
        current = codec.js_round(now)
        limit = codec.js_round(self.stuck_worker_timeout)
        floor = codec.js_round(self._back_at) if self._back_at is not None else None
        stale: list[WorkerPing] = []
        skewed: set[str] = set()
        for ping in pings:
            ahead = ping.time - now
            if ahead > self.skew_tolerance:
                skewed.add(ping.name)
                if ping.name not in self._skewed:
                    logger.debug(
                        "worker %s pings %.0f s in the future of the storage clock",
                        ping.name,
                        ahead,
                    )
                    self.emit("clock_skew", ping.name, ahead)
                continue
            last = ping.time if floor is None else max(ping.time, floor)
            if current - last > limit:
                stale.append(ping)
        self._skewed = skewed
        return stale
