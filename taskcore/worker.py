"""The worker: reserves jobs, runs them, records their outcome (node-resque's Worker, fixed).

Loop contract:

* **Strict priority.** Every reservation scans the queues in the order given, first non-empty
  wins, so after each job the worker starts again from the first queue.
* **One storage call between jobs.** The outcome of the job just run and the reservation of the
  next are one :meth:`~taskcore.backend.Backend.complete_and_reserve` call when the driver does it
  in one round trip (two atomic calls otherwise; the invariant holds either way).
* **Low latency when idle.** Before an idle reserve attempt the worker arms a
  :class:`~taskcore.backend.WakeUp`; if nothing was reserved it waits on it for at most
  ``timeout`` seconds, so a push reaches an idle worker within milliseconds on drivers with
  notifications and within ``timeout`` seconds (the poll fallback) on the others.
* **Wildcard.** ``queues="*"`` registers once as ``WorkerId(name, ("*",))`` and reserves over
  :meth:`~taskcore.backend.Backend.list_queues`, refreshed on every idle cycle and at least every
  ``timeout`` seconds while busy, so new queues are noticed without re-registering (node-resque
  re-tracked on every idle cycle, wiping its stats, and never looked while busy).
* **Nothing lost.** A reserved job stays in the worker's current-job record until its outcome is
  recorded. Storage errors are emitted as ``error`` and retried with back-off; before the retry
  the worker reads its current-job record back, since a call whose reply was lost may have been
  applied (a blind retry would overwrite the record of a job reserved for it). The outcome is
  kept and recorded when storage is back. An unknown class, a malformed payload or anything a
  hook or job raises is a recorded failure, never a crash. On shutdown the current job
  finishes; past ``shutdown_timeout`` (or at a second stop signal) it is cancelled and recorded
  as a failure.
* **Never dead while looking alive.** Should the loop still end by an exception (a bug), the
  heartbeat stops at once, so a scheduler's stuck-worker check recovers the held job; the
  reason is logged at ERROR on ``taskcore.worker`` and emitted as ``crash``; :meth:`end` still
  cleans up and does not raise.
* **Registered while alive.** A scheduler may clean a live worker (a stalled link, a skewed
  clock). The heartbeat notices the missing registration and registers again (``reregistered``,
  logged at WARNING); storage also re-registers a worker on each reserve attempt.

Events (``worker.on(name, handler)``), durations in seconds: ``start(now)``, ``end(now)``,
``poll(queues)`` (the comma-joined queues of one reserve attempt), ``job(queue, job)``,
``success(queue, job, result, duration)``, ``failure(queue, job, error, duration)`` (``job`` is
None for a malformed payload), ``skipped(queue, job, duration)`` (a before_perform hook
stopped the job), ``error(error, queue, job)``, ``pause()``, ``ping(seconds)``,
``reregistered(now)``, ``crash(error)`` and ``re_enqueue(queue, job, info)`` (emitted by the
Retry plugin).

Time: without a ``clock`` the worker uses a :class:`~taskcore.clock.StorageClock`, measured at
:meth:`Worker.start` and refreshed on heartbeats, so its pings are dated on the storage
server's clock. An injected clock (a FakeClock in tests) is used as given.

This module is the loop and the storage side; the worker composes the parts around it: running
one reserved job (decode, hooks, perform, the outcome to record) is
:class:`taskcore.perform.JobRunner`, the read-back after a failed call :mod:`taskcore.readback`,
the pings and re-registration :mod:`taskcore.heartbeat`, the idle waiting :mod:`taskcore.idle`,
the queues to reserve over :mod:`taskcore.queue_order`, and the shutdown deadline, the last
outcome and the release of what the worker holds :mod:`taskcore.shutdown`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from taskcore import codec
from taskcore.backend import (
    Backend,
    CurrentJob,
    Outcome,
    PollingWakeUp,
    Reservation,
    WakeUp,
    WorkerId,
)
from taskcore.clock import Clock, StorageClock
from taskcore.errors import ConfigError
from taskcore.events import EventEmitter, StopSignals
from taskcore.heartbeat import heartbeat
from taskcore.idle import idle_seconds, wait_for_stop, wait_idle
from taskcore.jobs import JobDefinition, Jobs, PerformFn
from taskcore.perform import JobRunner, ShutdownDeadlineExceeded, describe_error
from taskcore.queue import Queue
from taskcore.queue_order import parse_queues, queues_to_work
from taskcore.readback import Held, held_of, read_back
from taskcore.shutdown import orphan_failure, record_last_outcome, release, stop_loop

__all__ = ["ShutdownDeadlineExceeded", "Worker", "default_name"]

logger = logging.getLogger("taskcore.worker")

_MAX_BACKOFF = 5.0  # seconds between retries of a failing storage call, at most


def default_name() -> str:
    """``"<hostname>:<pid>"``, node-resque's default worker and scheduler name."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker(EventEmitter):
    """Works jobs from ``queues`` (priority order, or ``"*"``) using ``jobs``.

    ``timeout`` (seconds) is both the idle poll fallback and the heartbeat interval;
    ``poll_interval`` (seconds, None = ``timeout``) is how often an idle worker looks at its
    queues when its wake-up does not see other producers' pushes
    (:attr:`WakeUp.sees_foreign_pushes`): the bound on how long a job enqueued by node-resque
    or resque waits, at the cost of one reserve call per idle worker per interval;
    ``shutdown_timeout`` (seconds, None = wait forever) bounds how long :meth:`end` waits for the
    current job. ``queue`` is the :class:`~taskcore.queue.Queue` plugins use (built on the same
    backend and jobs when not given). With ``install_signal_handlers`` SIGTERM/SIGINT end the
    worker gracefully, and a second one shortens the stop (:meth:`stop_now`).
    """

    def __init__(
        self,
        backend: Backend,
        jobs: Mapping[str, JobDefinition | PerformFn],
        *,
        queues: Sequence[str] | str = "*",
        name: str | None = None,
        timeout: float = 5.0,
        clock: Clock | None = None,
        queue: Queue | None = None,
        shutdown_timeout: float | None = 30.0,
        install_signal_handlers: bool = False,
        poll_interval: float | None = None,
    ) -> None:
        super().__init__()
        if timeout <= 0:
            raise ConfigError(f"timeout={timeout!r}: the poll/ping interval must be > 0 seconds")
        if poll_interval is not None and poll_interval <= 0:
            raise ConfigError(
                f"poll_interval={poll_interval!r}: give seconds > 0, or None to poll every "
                "timeout seconds"
            )
        self.poll_interval = poll_interval
        self.backend = backend
        self.jobs: Jobs = jobs if isinstance(jobs, Jobs) else Jobs(jobs)
        self.clock: Clock = clock or StorageClock(backend)
        self.name = name or default_name()
        self._queues = parse_queues(queues)
        self.worker_id = WorkerId(self.name, self._queues or ("*",))
        self.queue = queue or Queue(backend, self.jobs, clock=self.clock)
        self.timeout = timeout
        self.shutdown_timeout = shutdown_timeout
        self.install_signal_handlers = install_signal_handlers
        self._stop = asyncio.Event()
        self._closed = asyncio.Event()
        self._wake: WakeUp | None = None
        self._channel: Backend = backend  # the step calls' (Backend.worker_channel)
        self._loop_task: asyncio.Task[None] | None = None
        self._ping_task: asyncio.Task[None] | None = None
        self._runner = JobRunner(self)
        self._ending: asyncio.Future[None] | None = None
        self._hurry = asyncio.Event()
        self._signals = StopSignals(self._on_signal, self.stop_now, f"worker {self.name}")
        self._reregistered = False  # the heartbeat registered us again since the last step
        self.found_job = False
        """True when the last reserve attempt found a job (a pool counts this worker busy)."""
        self.on_work_found: Callable[[], None] | None = None
        """Called (synchronously, in the loop's task) when a reserve finds a job after one that
        found none (or the first): the moment work arrives, so a pool can grow at once. What
        it raises is emitted as ``error``."""
        self.crash_error: Exception | None = None
        """The exception that ended the loop (see ``crash``), None while it has not."""

    @property
    def wildcard(self) -> bool:
        """True when the worker works every queue (``"*"``)."""
        return self._queues is None

    @property
    def working(self) -> bool:
        """True while a reserved job is being processed (decode, hooks, perform)."""
        return self._runner.working

    @property
    def idle_wait(self) -> float:
        """Seconds an idle worker waits for a wake-up before it looks at its queues again:
        ``timeout`` when its wake-up sees every producer's pushes, else ``poll_interval``
        (when shorter)."""
        return idle_seconds(self.timeout, self.poll_interval, self._wake)

    @property
    def busy(self) -> bool:
        """True while running a job, and while its last reserve attempt found one: a worker
        draining short jobs is busy even though it is seldom inside one at a given instant."""
        return self._runner.working or self.found_job

    @property
    def job(self) -> codec.Job | None:
        """The job being performed, None between jobs (plugins read it, e.g. Retry)."""
        return self._runner.job

    @property
    def running(self) -> bool:
        """True from :meth:`start` until the loop has stopped."""
        return self._loop_task is not None and not self._loop_task.done()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Register the worker (with a first ping) and run the loop and heartbeat in tasks."""
        if self._loop_task is not None:
            raise ConfigError(f"worker {self.name!r} was already started; build a new Worker")
        if isinstance(self.clock, StorageClock):
            with contextlib.suppress(Exception):  # unreachable storage fails register below
                await self.clock.sync()
        now = self.clock.now()
        await self.backend.register_worker(self.worker_id, now)
        try:
            self._wake = await self.backend.wake_up(self._queues or ())
            self._channel = await self.backend.worker_channel()
        except BaseException:
            # Not started: leave no registered worker behind for the stuck-worker check.
            with contextlib.suppress(Exception):
                await self.backend.clean_worker(self.name, self._orphan_failure)
            raise
        self.emit("start", now)
        self.emit("ping", codec.js_round(now))
        self._loop_task = asyncio.create_task(self._main(), name=f"taskcore-worker {self.name}")
        self._ping_task = asyncio.create_task(
            heartbeat(self, self._closed, self._note_reregistered),
            name=f"taskcore-ping {self.name}",
        )
        if self.install_signal_handlers:
            self._install_signal_handlers()

    def request_stop(self) -> None:
        """Ask the loop to stop after the current job (safe from signal handlers)."""
        self._stop.set()
        if isinstance(self._wake, PollingWakeUp):
            self._wake.notify()  # an idle loop waits on it alone (see idle.wait_idle)

    def stop_now(self) -> None:
        """Shorten the stop: cancel the running job now instead of at ``shutdown_timeout``.

        The job is still recorded (a :class:`ShutdownDeadlineExceeded` failure, after its
        after_perform hooks ran) and the worker still unregistered: this starts :meth:`end` if
        it is not running yet and never skips any of it. A second SIGTERM/SIGINT calls it.
        """
        self.request_stop()
        self._hurry.set()
        if self._loop_task is not None:
            self._begin_end()

    async def end(self) -> None:
        """Stop gracefully and unregister; idempotent, concurrent calls share one shutdown.

        The current job finishes and its outcome is recorded. If it is still running after
        ``shutdown_timeout`` seconds (or when :meth:`stop_now` is called) it is cancelled and
        recorded as a :class:`ShutdownDeadlineExceeded` failure. Then every trace of the worker
        is removed (any job still in its current-job record goes to the failed list). Never
        raises for the loop's or storage's errors: they were emitted (``crash``, ``error``).
        """
        await asyncio.shield(self._begin_end())

    def _begin_end(self) -> asyncio.Future[None]:
        """The one shutdown :meth:`end`, :meth:`stop_now` and a signal share; started on the
        first call."""
        if self._ending is None:
            self._ending = asyncio.ensure_future(self._end())
        return self._ending

    async def run_until_stopped(self) -> None:
        """:meth:`start`, wait for :meth:`request_stop` (or a signal), then :meth:`end`."""
        await self.start()
        await self._stop.wait()
        await self.end()

    async def _end(self) -> None:
        self.request_stop()
        try:
            if self._loop_task is not None:
                await stop_loop(
                    self._loop_task, self._hurry, self.shutdown_timeout, self._cancel_current_job
                )
            self._closed.set()
            if self._ping_task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._ping_task
            channel, self._channel = self._channel, self.backend
            await release(
                self.backend,
                self.name,
                self._wake,
                channel,
                self._orphan_failure if self._loop_task is not None else None,
                self.emit,
            )
        finally:
            # Only now: a signal during the stop must shorten it, never kill the process.
            self._signals.remove()
        self.emit("end", self.clock.now())

    def _cancel_current_job(self, reason: str | None) -> None:
        if not self._runner.cancel(reason) and self._loop_task is not None:
            # Stuck in a storage call: the job (if any) is safe in the current-job record and
            # clean_worker moves it to the failed list.
            self._loop_task.cancel()

    def _orphan_failure(self, current: CurrentJob) -> str:
        return orphan_failure(self.name, current, self.clock.now())

    def _install_signal_handlers(self) -> None:
        self._signals.install()

    def _on_signal(self) -> None:
        self.request_stop()
        self._begin_end()

    # ------------------------------------------------------------------ the loop

    async def _main(self) -> None:
        """The loop, guarded: an exception ending it is a crash, reported and contained."""
        try:
            await self._run()
        except Exception as exc:
            await self._crashed(exc)

    async def _crashed(self, exc: Exception) -> None:
        """Stop pinging at once (so a scheduler recovers the held job), say why, stop."""
        self.crash_error = exc
        self._stop.set()
        if self._ping_task is not None:
            self._ping_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ping_task
        logger.error(
            "worker %s stopped working: its loop failed with %s: %s. It no longer pings, so a "
            "scheduler's stuck-worker check recovers the job it held; end() unregisters it",
            self.name,
            type(exc).__name__,
            describe_error(exc),
            exc_info=exc,
        )
        self.emit("crash", exc)

    async def _run(self) -> None:
        pending: Outcome | None = None  # the outcome of the job in ``held``, not yet recorded
        held: Held | None = None  # what our current-job record holds, as far as we know
        in_doubt = False  # a storage call failed: storage may or may not have applied it
        queues: list[str] | None = None
        polled: list[str] | None = None  # the queues polled_text was joined from
        polled_text = ""
        listed_at = 0.0
        backoff = 0.1
        assert self._wake is not None
        while not self._stop.is_set():
            reservation: Reservation | None = None
            relisted = False
            try:
                if in_doubt:
                    pending, reservation, held = await self._recover(pending, held)
                    in_doubt = False
                if reservation is None:
                    # A busy wildcard worker never idles, so it re-lists its queues every
                    # ``timeout`` seconds as well: a new queue cannot starve behind a busy one.
                    if queues is None or (
                        self.wildcard and self.clock.now() - listed_at >= self.timeout
                    ):
                        listed_at = self.clock.now()
                        queues = await queues_to_work(self.backend, self._queues)
                        relisted = True
                    self._wake.arm()
                    if queues is not polled:
                        polled, polled_text = queues, ",".join(queues)
                    self.emit("poll", polled_text)
                    now = self.clock.now()
                    self._reregistered = False
                    reservation = await self._step(pending, queues, now)
                    pending = None
                    held = None if reservation is None else held_of(reservation, now)
                    arrived = reservation is not None and not self.found_job
                    self.found_job = reservation is not None
                    if arrived and self.on_work_found is not None:
                        self._work_found(self.on_work_found)
            except Exception as exc:
                in_doubt = True
                self.emit("error", exc, None, None)
                await wait_for_stop(self._stop, backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF, self.timeout)
                continue
            backoff = 0.1
            if reservation is None and self.wildcard and not relisted:
                # Its list ran dry; queues it left out (empty when listed) may hold jobs now.
                queues = None
                continue
            if reservation is None:
                self.emit("pause")
                await wait_idle(self._wake, self.idle_wait, self._stop)
                if self.wildcard:
                    queues = None
                continue
            pending = await self._runner.process(reservation)
        # Whatever stays in the current-job record is failed by ``clean_worker`` in end().
        await record_last_outcome(
            self._channel,
            self.worker_id,
            pending,
            held,
            in_doubt,
            recover=self._recover,
            emit=self.emit,
            max_wait=self.timeout,
        )

    def _work_found(self, hook: Callable[[], None]) -> None:
        """Call the ``on_work_found`` hook; what it raises is emitted as ``error``, never
        taken for a storage error (the reservation it follows is recorded)."""
        try:
            hook()
        except Exception as exc:
            self.emit("error", exc, None, None)

    async def _step(
        self, pending: Outcome | None, queues: Sequence[str], now: float
    ) -> Reservation | None:
        """Record ``pending`` (if any) and reserve the next job: one storage call on drivers
        with ``single_call_complete_and_reserve``."""
        channel = self._channel
        if pending is None:
            return await channel.reserve(queues, self.worker_id, now) if queues else None
        if queues:
            return await channel.complete_and_reserve(self.worker_id, pending, queues, now)
        await channel.complete(self.worker_id, pending)
        return None

    async def _recover(
        self, pending: Outcome | None, held: Held | None
    ) -> tuple[Outcome | None, Reservation | None, Held | None]:
        """After a failed storage call, read back what storage did; the outcome is dropped
        only when storage confirms it was recorded (see :func:`taskcore.readback.read_back`)."""
        return await read_back(
            self.backend, self.worker_id, pending, held, reregistered=self._reregistered
        )

    def _note_reregistered(self) -> None:
        self._reregistered = True

    # ------------------------------------------------------------------ one job

    async def work_one(self) -> bool:
        """Reserve at most one job, run it and record its outcome; False if none was waiting.

        Needs no :meth:`start` (meant for tests and scripts); does not register the worker.
        """
        queues = await queues_to_work(self.backend, self._queues)
        if not queues:
            return False
        reservation = await self.backend.reserve(queues, self.worker_id, self.clock.now())
        if reservation is None:
            return False
        outcome = await self._runner.process(reservation)
        await self.backend.complete(self.worker_id, outcome)
        return True

    async def perform_inline(self, func: str, args: Any = None) -> Any:
        """Run job ``func`` with its perform hooks in this process; nothing touches storage.

        Returns the job's result, or None if a before_perform hook stopped it. Raises
        :class:`~taskcore.errors.UnknownJob` for an unregistered class, and re-raises the job's
        error unless an after_perform hook cleared it.
        """
        if self._loop_task is not None:
            raise ConfigError("perform_inline needs a worker that was not started")
        return await self._runner.perform_inline(func, args)
