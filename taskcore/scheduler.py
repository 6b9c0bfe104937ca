"""The scheduler: promotes due delayed jobs and recovers stuck workers, as one elected leader.

Any number of schedulers may run; the one holding the ``resque_scheduler_leader_lock`` lock
(value: its name, TTL ``leader_lock_timeout`` seconds, renewed on every poll) does the work.
When the leader ends it releases the lock, so another takes over at its next poll; when the
leader dies the lock expires and another takes over within ``leader_lock_timeout + timeout``
seconds. This matches node-resque's lock, so node-resque and taskcore schedulers elect one
leader between them.

Fixed against node-resque: promotion is one atomic, exactly-once storage step
(:meth:`~taskcore.backend.Backend.promote_due`), so a crash never loses a job, two leaders
never duplicate one and no enqueue plugin can silently drop it; every due timestamp is promoted
in one poll; the stuck-worker check runs on every poll, not only when nothing was due.

Events: ``start()``, ``end()``, ``poll()`` (each poll as leader), ``leader()`` (on becoming
leader), ``transferred_job(timestamp, job)`` (timestamp in whole seconds; ``job`` a
:class:`~taskcore.codec.Job`, or the raw payload string when it cannot be decoded),
``clean_stuck_worker(name, failures, age)`` (``failures`` a list of
:class:`~taskcore.codec.Failure`, ``age`` seconds since its last ping) and ``error(error)``.
"""

from __future__ import annotations

import asyncio
import contextlib

from taskcore import codec
from taskcore.backend import Backend
from taskcore.clock import Clock, SystemClock
from taskcore.errors import ConfigError, MalformedPayload
from taskcore.events import EventEmitter, sleep_or_stop
from taskcore.queue import LEADER_LOCK, Queue
from taskcore.worker import default_name

__all__ = ["LEADER_LOCK", "Scheduler"]

_PROMOTE_BATCH = 1000  # delayed jobs moved per storage call


class Scheduler(EventEmitter):
    """Leader-elected promotion of delayed jobs and stuck-worker recovery.

    ``timeout`` is the poll interval and ``stuck_worker_timeout`` the heartbeat age after which a
    worker is declared dead (both seconds; None disables the stuck check);
    ``leader_lock_timeout`` is the leader lock's TTL in whole seconds. With
    ``retry_stuck_jobs`` the jobs of dead workers go back to their queues after being recorded
    as failures. Give each scheduler a distinct ``name``: two with one name both lead.
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
        self.backend = backend
        self.name = name or default_name()
        self.timeout = timeout
        self.leader_lock_timeout = int(leader_lock_timeout)
        self.stuck_worker_timeout = stuck_worker_timeout or None
        self.retry_stuck_jobs = retry_stuck_jobs
        self.clock: Clock = clock or SystemClock()
        self.queue = queue or Queue(backend, clock=self.clock)
        self.is_leader = False
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """True from :meth:`start` until :meth:`end`."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Poll at once, then every ``timeout`` seconds (on the injected clock), in a task."""
        if self._task is not None:
            raise ConfigError(f"scheduler {self.name!r} was already started; build a new one")
        self._stop.clear()
        self.emit("start")
        self._task = asyncio.create_task(self._run(), name=f"taskcore-scheduler {self.name}")

    async def end(self) -> None:
        """Stop after the poll in progress, then release the leader lock if we hold it."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
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

    async def try_for_leader(self) -> bool:
        """Take the leader lock if free, else renew it if we hold it; True if we lead now."""
        ttl = self.leader_lock_timeout
        if await self.backend.acquire_lock(LEADER_LOCK, self.name, ttl):
            return True
        return await self.backend.renew_lock(LEADER_LOCK, self.name, ttl)

    async def poll(self) -> bool:
        """One cycle: elect, then (as leader) promote every due job and clean stuck workers.

        Returns whether this scheduler is the leader. Storage errors propagate (the running
        loop emits them as ``error`` and tries again next poll).
        """
        leader = await self.try_for_leader()
        became = leader and not self.is_leader
        self.is_leader = leader
        if not leader:
            return False
        if became:
            self.emit("leader")
        self.emit("poll")
        await self.promote_due()
        if self.stuck_worker_timeout is not None:
            await self.clean_stuck_workers()
            if self.retry_stuck_jobs:
                await self.queue.retry_stuck_jobs()
        return True

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
            if len(batch) < _PROMOTE_BATCH:
                return moved

    async def clean_stuck_workers(self) -> list[str]:
        """Force-clean every worker whose last ping is older than ``stuck_worker_timeout``.

        Each dead worker's current job goes to the failed list ("Worker Timeout (killed
        manually)"), and every key of the worker is removed. Returns the names cleaned.
        """
        if self.stuck_worker_timeout is None:
            return []
        now = self.clock.now()
        cleaned: list[str] = []
        for ping in await self.backend.stale_workers(now, self.stuck_worker_timeout):
            failures = await self.queue.force_clean_worker(ping.name)
            age = codec.js_round(now) - ping.time
            self.emit("clean_stuck_worker", ping.name, failures, age)
            cleaned.append(ping.name)
        return cleaned
