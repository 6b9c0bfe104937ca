"""``App``: one process's taskcore, built from :class:`~taskcore.config.Settings` and tasks.

::

    async with App(Settings(url="redis://localhost"), tasks) as app:
        await app.task.enqueue("send_email", {"to": "a@b.c"})

Start order: open the backend, build the Queue, start the Scheduler (when
``settings.scheduler``; as leader it also schedules cron ticks) and enqueue the periodic tasks
(once in the cluster), then start the MultiWorker (when ``settings.max_workers > 0``) and, when
a task has ``scope="all"``, this App's node (:mod:`taskcore.tasks.scope`). Stop order is the
reverse of what matters for no loss: the scheduler stops promoting, the workers finish their
current jobs (bounded by ``shutdown_timeout``), then the backend closes. Classes named in
``settings.resque_overrides`` replace Queue, Scheduler and MultiWorker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from taskcore.config import Settings
from taskcore.events import StopSignals
from taskcore.ops.health import HealthChecker, HealthReport
from taskcore.ops.logs import observe_app
from taskcore.registry import connect
from taskcore.tasks.api import TaskAPI
from taskcore.tasks.cron import watch_cron
from taskcore.tasks.periodic import watch_stuck_workers
from taskcore.tasks.registry import TaskRegistry
from taskcore.tasks.scope import NodeRunner

if TYPE_CHECKING:
    from taskcore.backend import Backend
    from taskcore.clock import Clock
    from taskcore.events import EventEmitter
    from taskcore.multiworker import MultiWorker
    from taskcore.queue import Queue
    from taskcore.scheduler import Scheduler

__all__ = ["App"]

log = logging.getLogger("taskcore.app")


class App:
    """The backend, Queue, Scheduler and MultiWorker of one process, started and stopped together.

    ``backend`` may be given (already built, e.g. shared by tests); the App then opens it but
    never closes it. ``clock`` is passed to every component (a FakeClock in tests). ``name``
    names the scheduler and the worker pool (default ``<hostname>:<pid>``).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        tasks: TaskRegistry | None = None,
        *,
        backend: Backend | None = None,
        clock: Clock | None = None,
        name: str | None = None,
    ) -> None:
        self.settings = settings if settings is not None else Settings()
        self.tasks = tasks if tasks is not None else TaskRegistry()
        self.clock = clock
        self.name = name
        self._given_backend = backend
        self._backend: Backend | None = backend
        self._queue: Queue | None = None
        self.scheduler: Scheduler | None = None
        self.multi_worker: MultiWorker | None = None
        self.node: NodeRunner | None = None
        """This App as a node running ``scope="all"`` tasks (started with the workers)."""
        self._opened = False
        self._started = False
        self._listeners: list[tuple[str, str, Callable[..., Any]]] = []
        self._health: HealthChecker | None = None
        observe_app(self)  # log lines and process metrics (taskcore.ops)

    def __repr__(self) -> str:
        return f"<App url={self.settings.safe_url!r} tasks={len(self.tasks)}>"

    # ---------------------------------------------------------------- parts

    @property
    def backend(self) -> Backend:
        """The storage backend (built from ``settings.url`` on :meth:`open`)."""
        if self._backend is None:
            raise RuntimeError("the App is not open: use 'async with App(...)' or await open()")
        return self._backend

    @property
    def queue(self) -> Queue:
        """The Queue (or its configured override), available once open."""
        if self._queue is None:
            raise RuntimeError("the App is not open: use 'async with App(...)' or await open()")
        return self._queue

    @property
    def task(self) -> TaskAPI:
        """The task API over :attr:`queue`: ``await app.task.enqueue(name, inputs)``."""
        return TaskAPI(self.queue, self.tasks)

    async def health(self) -> HealthReport:
        """The cluster's health as seen from storage: an ok/warn/fail verdict with reasons
        (see :mod:`taskcore.ops.health`); needs :meth:`open`. Never raises for storage
        errors: unreachable storage is a ``fail`` verdict."""
        if self._health is None:
            self._health = HealthChecker(self.settings, clock=self.clock)
        return await self._health.check(self.queue)

    def on(self, event: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        """Listen to ``"worker.<event>"`` (from the worker pool; the child worker's name comes
        first, e.g. ``worker.success(name, queue, job, result, duration)``) or
        ``"scheduler.<event>"``; attached when :meth:`start` builds the component. Returns
        ``handler``."""
        component, sep, name = event.partition(".")
        if not sep or component not in ("worker", "scheduler") or not name:
            raise ValueError(f"event {event!r}: use 'worker.<event>' or 'scheduler.<event>'")
        self._listeners.append((component, name, handler))
        for target in (self.multi_worker if component == "worker" else self.scheduler,):
            if target is not None:
                target.on(name, handler)
        return handler

    def _attach(self, component: str, target: EventEmitter) -> None:
        for owner, name, handler in self._listeners:
            if owner == component:
                target.on(name, handler)

    # ---------------------------------------------------------------- lifecycle

    async def open(self) -> None:
        """Connect to storage and build the Queue; enough to enqueue and inspect. Idempotent."""
        if self._opened:
            return
        if self._backend is None:
            self._backend = connect(self.settings.url, namespace=self.settings.namespace)
        await self._backend.open()
        queue_cls = self.settings.resque_overrides.resolve("queue")
        self._queue = queue_cls(self._backend, self.tasks.jobs, clock=self.clock)
        self._opened = True
        log.info(
            "taskcore storage %s (namespace %r)", self.settings.safe_url, self.settings.namespace
        )

    async def start(self) -> None:
        """:meth:`open`, then start the scheduler (and periodic tasks) and the worker pool."""
        await self.open()
        if self._started:
            return
        self._started = True
        s = self.settings
        try:
            if s.scheduler:
                scheduler_cls = self.settings.resque_overrides.resolve("scheduler")
                self.scheduler = scheduler_cls(
                    self.backend,
                    name=self.name,
                    timeout=s.timeout,
                    leader_lock_timeout=s.leader_lock_timeout,
                    stuck_worker_timeout=s.stuck_worker_timeout,
                    retry_stuck_jobs=s.retry_stuck_jobs,
                    clock=self.clock,
                    queue=self.queue,
                )
                self._attach("scheduler", self.scheduler)
                watch_stuck_workers(self.scheduler, self.queue, self.tasks)
                watch_cron(self.scheduler, self.queue, self.tasks)
                await self.scheduler.start()
                booted = await self.task.enqueue_all_recurrent_tasks()
                if booted:
                    log.info("periodic tasks enqueued: %s", ", ".join(booted))
            if s.max_workers > 0:
                pool_cls = self.settings.resque_overrides.resolve("multi_worker")
                self.multi_worker = pool_cls(
                    self.backend,
                    self.tasks.jobs,
                    queues=list(s.queues),
                    name=self.name,
                    min_workers=max(1, s.min_workers),
                    max_workers=s.max_workers,
                    timeout=s.timeout,
                    check_interval=s.check_interval,
                    max_event_loop_delay=s.max_event_loop_delay,
                    clock=self.clock,
                    queue=self.queue,
                    shutdown_timeout=s.shutdown_timeout,
                    **({} if s.poll_interval is None else {"poll_interval": s.poll_interval}),
                )
                self._attach("worker", self.multi_worker)
                await self.multi_worker.start()
                if NodeRunner.wanted(self.tasks):
                    self.node = NodeRunner(
                        self.queue,
                        self.tasks,
                        self.name,
                        self.queue.clock,
                        timeout=s.timeout,
                        shutdown_timeout=s.shutdown_timeout,
                    )
                    await self.node.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop the scheduler, then the workers (current jobs finish), then close storage.

        Idempotent; a backend passed to the constructor is left open.
        """
        if self.scheduler is not None:
            scheduler, self.scheduler = self.scheduler, None
            await scheduler.end()
        if self.multi_worker is not None:
            pool, self.multi_worker = self.multi_worker, None
            await pool.end()
        if self.node is not None:
            node, self.node = self.node, None
            await node.end()
        self._started = False
        if self._opened:
            self._opened = False
            self._queue = None
            if self._given_backend is None and self._backend is not None:
                backend, self._backend = self._backend, None
                await backend.aclose()

    async def run_until_stopped(self, stop: asyncio.Event | None = None) -> None:
        """Start, run until ``stop`` is set or SIGINT/SIGTERM arrives, then stop cleanly.

        A second SIGINT/SIGTERM shortens the stop: the running jobs are cancelled now and
        recorded as failed (``ShutdownDeadlineExceeded``), the workers still unregister. The
        handlers stay installed until the stop is complete, so no signal skips the recording.
        """
        stop = stop if stop is not None else asyncio.Event()
        pools: list[MultiWorker] = []

        def hurry() -> None:
            stop.set()
            for pool in pools:
                pool.stop_now()

        signals = StopSignals(stop.set, hurry, f"taskcore app {self.name or ''}".rstrip())
        signals.install()
        try:
            await self.start()
            if self.multi_worker is not None:
                pools.append(self.multi_worker)
                if signals.received > 1:
                    self.multi_worker.stop_now()
            await stop.wait()
            log.info("stopping: waiting for running jobs to finish")
        finally:
            try:
                await self.stop()
            finally:
                signals.remove()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
