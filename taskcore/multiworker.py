"""MultiWorker: a pool of workers in one event loop that sizes itself to throughput.

A child counts as **busy** while it runs a job *and* while its last reserve attempt found one
(:attr:`Worker.busy`): a worker draining short jobs is seldom inside a job at a given instant,
yet every reserve it makes finds work, so the pool grows for a queue of short jobs as it does for
long ones (node-resque counted only children inside a job, and under 5,000 short jobs peaked at
two workers).

The pool takes one sizing decision per check. Checks run every ``check_interval`` seconds, and
also **as soon as work arrives**: a child whose reserve finds a job after finding none wakes the
pool at once (when it is below ``max_workers``), and while growth is pending (below the
maximum with more than half of the children busy) the next check follows ``grow_interval``
seconds later instead of ``check_interval``; such a **follow-up** check (or one woken by work)
never shrinks the pool. Each check first measures how late the event loop ran it (the lag, on
the loop's own monotonic clock, never the injected clock: how late a timer fired, or how long
the pool waited to run once a child woke it):

====  ==============================================================  ===================
step  condition (``busy`` = busy children, ``n`` = size)              action
====  ==============================================================  ===================
1     loop blocked (see below), ``n > min``, not a follow-up          ``"-"``
2     loop blocked                                                    ``"x"``
3     ``n < min``                                                     ``"+"`` up to ``min``
4     ``n < max`` and (``n == 0`` or ``busy / n > 0.5``)              ``"+"`` x ``busy``
5     ``n > min``, ``busy / n < 0.5``, not a follow-up                ``"-"``
6     otherwise                                                       ``"x"``
====  ==============================================================  ===================

Growth under load starts one child per busy child (at least one, never past ``max``), so the
pool doubles per check while every child finds work: from one worker it reaches ten in four
checks, about 0.1 s after the first job arrives at the default ``grow_interval`` (measured on
PostgreSQL: ten workers 0.06-0.1 s after the pool started on a full queue), where a 5,000-job
drain of short jobs lasts well under a second. A lagging loop during growth holds the size (a
follow-up never shrinks: the children just started may not have reserved yet, and starting
them is what lagged); shrinking is one child per ``check_interval``.

The loop counts as blocked while any of the last three probes lagged more than
``max_event_loop_delay`` (node-resque trusted one probe, which can fire between two blocking
jobs and let the pool grow).

``"+"`` starts a child named ``f"{name}+{k}"`` (``k`` the smallest number no live or stopping
child uses); ``"-"`` ends the newest child gracefully in the background, so a long job never
stalls the pool's checks (node-resque awaited it, and reused the name of a child still ending).
Each child started or ended emits ``multi_worker_action(verb, lag)`` (lag in seconds), and a
check that changes nothing emits one ``"x"``. Every child event is re-emitted with the child's
name first: ``success(child_name, queue, job, result, duration)``,
``error(child_name, error, queue, job)``, ...
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from taskcore.backend import Backend
from taskcore.clock import Clock, StorageClock
from taskcore.errors import ConfigError
from taskcore.events import AnyHandler, EventEmitter
from taskcore.jobs import JobDefinition, Jobs, PerformFn
from taskcore.queue import Queue
from taskcore.worker import Worker, default_name

__all__ = ["MultiWorker"]

_LAG_WINDOW = 3  # probes that must all be on time before the loop counts as free again

GROW_INTERVAL = 0.02
"""Default seconds between checks while the pool is growing."""


class MultiWorker(EventEmitter):
    """A self-sizing pool of :class:`~taskcore.worker.Worker` children sharing one backend.

    Durations are seconds: ``timeout`` (each child's poll/ping interval), ``check_interval``
    (between sizing checks), ``grow_interval`` (between checks while the pool grows; the
    smaller of it and ``check_interval`` is used), ``max_event_loop_delay`` (lag above which
    the loop counts as blocked, so the pool stops growing), ``shutdown_timeout`` (each child's
    hard deadline),
    ``poll_interval`` (each child's idle poll for other producers' jobs, see :class:`Worker`).
    """

    def __init__(
        self,
        backend: Backend,
        jobs: Mapping[str, JobDefinition | PerformFn],
        *,
        queues: Sequence[str] | str = "*",
        name: str | None = None,
        min_workers: int = 1,
        max_workers: int = 20,
        timeout: float = 5.0,
        check_interval: float = 0.5,
        grow_interval: float = GROW_INTERVAL,
        max_event_loop_delay: float = 0.01,
        clock: Clock | None = None,
        queue: Queue | None = None,
        shutdown_timeout: float | None = 30.0,
        poll_interval: float | None = None,
    ) -> None:
        super().__init__()
        if not 0 <= min_workers <= max_workers or max_workers < 1:
            raise ConfigError(
                f"min_workers={min_workers}, max_workers={max_workers}: need "
                "0 <= min_workers <= max_workers and max_workers >= 1"
            )
        if check_interval <= 0:
            raise ConfigError(f"check_interval={check_interval!r}: must be > 0 seconds")
        if grow_interval <= 0:
            raise ConfigError(f"grow_interval={grow_interval!r}: must be > 0 seconds")
        self.backend = backend
        self.jobs: Jobs = jobs if isinstance(jobs, Jobs) else Jobs(jobs)
        self.queues = queues
        self.name = name or default_name()
        self.min_workers = min_workers
        self.max_workers = max_workers
        self.timeout = timeout
        self.check_interval = check_interval
        self.grow_interval = grow_interval
        self.max_event_loop_delay = max_event_loop_delay
        self.clock: Clock = clock or StorageClock(backend)
        self.queue = queue or Queue(backend, self.jobs, clock=self.clock)
        self.shutdown_timeout = shutdown_timeout
        self.poll_interval = poll_interval
        self.workers: list[Worker] = []
        self.event_loop_delay = 0.0
        """The lag measured by the last probe, in seconds."""
        self._recent_lags: deque[float] = deque(maxlen=_LAG_WINDOW)
        self._ending: dict[Worker, asyncio.Task[None]] = {}
        self._forwarders: dict[Worker, AnyHandler] = {}
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()  # set by stop and by a child that found work
        self._woken_at: float | None = None  # loop time a child woke the pool, until checked
        self._checking = asyncio.Lock()  # one check at a time (the loop's and callers')
        self._task: asyncio.Task[None] | None = None

    @property
    def event_loop_blocked(self) -> bool:
        """True when one of the last few probes saw more lag than ``max_event_loop_delay``.

        A single on-time probe proves little: it may have fired in the gap between two jobs
        that each block the loop. Growth therefore needs ``_LAG_WINDOW`` on-time probes in a row.
        """
        return any(lag > self.max_event_loop_delay for lag in self._recent_lags)

    @property
    def working(self) -> int:
        """How many children are running a job right now."""
        return sum(1 for w in self.workers if w.working)

    @property
    def busy(self) -> int:
        """How many children are busy: running a job, or their last reserve found one."""
        return sum(1 for w in self.workers if w.busy)

    async def start(self) -> None:
        """Check at once (starting ``min_workers`` children), then every ``check_interval``."""
        if self._task is not None:
            raise ConfigError(f"multi-worker {self.name!r} was already started; build a new one")
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name=f"taskcore-multiworker {self.name}")

    def stop_now(self) -> None:
        """Shorten a stop in progress: every child cancels its running job now (still recorded
        as a failure) instead of at ``shutdown_timeout`` (see :meth:`Worker.stop_now`)."""
        self._stop.set()
        self._wake.set()
        for child in [*self.workers, *self._ending]:
            child.stop_now()

    async def end(self) -> None:
        """Stop checking, then end every child concurrently (each finishes its job first)."""
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        children, self.workers = self.workers, []
        for child in children:
            self._end_child(child)
        if self._ending:
            await asyncio.gather(*self._ending.values(), return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        follow_up = False
        while not self._stop.is_set():
            self._woken_at = None  # work found from here on wakes the wait below at once
            self._wake.clear()
            try:
                await self._check(follow_up=follow_up)
            except Exception as exc:
                self.emit("error", exc)
            interval = self.check_interval
            follow_up = self._growth_pending()
            if follow_up:
                interval = min(self.grow_interval, interval)
            started = loop.time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            if self._stop.is_set():
                return
            woken_at = self._woken_at
            if woken_at is not None:  # a child found work: how long did we take to run?
                self.event_loop_delay = max(0.0, loop.time() - woken_at)
            else:
                self.event_loop_delay = max(0.0, loop.time() - started - interval)
            self._recent_lags.append(self.event_loop_delay)
            if woken_at is not None:
                follow_up = True  # woken to grow: this check never shrinks

    def _growth_pending(self) -> bool:
        """True while the pool is below its maximum and most children are busy: it grows at
        the next check unless the loop is blocked, so that check comes ``grow_interval``
        later."""
        n = len(self.workers)
        return n < self.max_workers and (n < self.min_workers or (n > 0 and self.busy / n > 0.5))

    def _work_found(self) -> None:
        """A child's reserve found a job after finding none: check now, if the pool can grow."""
        if self._woken_at is None and len(self.workers) < self.max_workers:
            self._woken_at = asyncio.get_running_loop().time()
            self._wake.set()

    def _decide(self, follow_up: bool = False) -> tuple[str, int]:
        """The verb of the module table and how many children it starts or ends;
        ``follow_up`` (a check ``grow_interval`` after the last, or woken by work) never
        shrinks the pool: only a check after a whole ``check_interval`` does."""
        n = len(self.workers)
        busy = self.busy
        share = busy / n if n else 0.0
        if self.event_loop_blocked:
            return ("-", 1) if n > self.min_workers and not follow_up else ("x", 0)
        if n < self.min_workers:
            return "+", self.min_workers - n
        if n < self.max_workers and (n == 0 or share > 0.5):
            return "+", min(max(1, busy), self.max_workers - n)
        if n > self.min_workers and share < 0.5 and not follow_up:
            return "-", 1
        return "x", 0

    async def check_workers(self) -> str:
        """Take one sizing step (see the module table) and return its verb.

        A child whose loop crashed (its ``crash`` event) is ended first (unregistered, its held
        job recorded as failed) and no longer counts, so the sizing rules replace it. Children
        a ``"+"`` starts are started concurrently; checks never overlap (a call waits for the
        pool's own check in progress).
        """
        return await self._check(follow_up=False)

    async def _check(self, *, follow_up: bool) -> str:
        async with self._checking:
            return await self._check_locked(follow_up)

    async def _check_locked(self, follow_up: bool) -> str:
        for child in [w for w in self.workers if w.crash_error is not None]:
            self.workers.remove(child)
            self._end_child(child)
        verb, count = self._decide(follow_up)
        if verb == "x":
            self.emit("multi_worker_action", verb, self.event_loop_delay)
        elif verb == "+":
            names = self._child_names(count)
            results = await asyncio.gather(
                *(self._start_child(name) for name in names), return_exceptions=True
            )
            errors = [r for r in results if isinstance(r, BaseException)]
            for _ in range(len(names) - len(errors)):
                self.emit("multi_worker_action", verb, self.event_loop_delay)
            if errors:
                raise errors[0]
        else:
            for _ in range(count):
                self._end_child(self.workers.pop())
                self.emit("multi_worker_action", verb, self.event_loop_delay)
        return verb

    def _child_names(self, count: int) -> list[str]:
        """``count`` names ``f"{name}+{k}"``, ``k`` the smallest numbers no live or stopping
        child uses."""
        used = {w.name for w in self.workers} | {w.name for w in self._ending}
        names: list[str] = []
        k = 1
        while len(names) < count:
            if f"{self.name}+{k}" not in used:
                names.append(f"{self.name}+{k}")
            k += 1
        return names

    async def _start_child(self, name: str) -> None:
        child = Worker(
            self.backend,
            self.jobs,
            queues=self.queues,
            name=name,
            timeout=self.timeout,
            clock=self.clock,
            queue=self.queue,
            shutdown_timeout=self.shutdown_timeout,
            poll_interval=self.poll_interval,
        )

        def forward(event: str, *args: Any) -> None:
            self.emit(event, child.name, *args)

        child.on_any(forward)
        child.on_work_found = self._work_found
        try:
            await child.start()
        except BaseException:
            child.off_any(forward)
            raise
        self._forwarders[child] = forward
        self.workers.append(child)

    def _end_child(self, child: Worker) -> None:
        task = asyncio.ensure_future(child.end())
        self._ending[child] = task

        def done(_: asyncio.Task[None]) -> None:
            self._ending.pop(child, None)
            # Child events end with its "end"; stop forwarding only after it was delivered.
            forward = self._forwarders.pop(child, None)
            if forward is not None:
                child.off_any(forward)

        task.add_done_callback(done)
