"""This process's job counters and durations, fed by worker and scheduler events.

Storage keeps only global counters (``processed``/``failed`` and per worker); what the metrics
need per queue and class, and the duration histogram, is counted here from the events of the
workers running in this process. :data:`PROCESS` is the process-wide instance every
:class:`~taskcore.app.App` feeds (:func:`taskcore.ops.logs.observe_app`); a hand-built
:class:`~taskcore.worker.Worker` or pool is fed with :func:`watch_workers`.

Label values come from payloads, which are hostile: at most :data:`MAX_SERIES` distinct
``(queue, class)`` pairs are kept; further pairs are counted under ``("<other>", "<other>")``
so a stream of made-up class names cannot exhaust memory. Durations are in seconds.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from taskcore.codec import Job
from taskcore.errors import BackendError

__all__ = [
    "BUCKETS",
    "MAX_SERIES",
    "OTHER",
    "PROCESS",
    "Histogram",
    "ProcessStats",
    "SchedulerStats",
    "watch_scheduler",
    "watch_workers",
]

BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
"""Upper bounds (seconds) of the job duration histogram; ``+Inf`` is implied."""

MAX_SERIES = 1000
"""Distinct ``(queue, class)`` label pairs kept before folding the rest into :data:`OTHER`."""

OTHER = "<other>"
MALFORMED = "<malformed>"
"""The class label of a payload that could not be decoded."""


@dataclass
class Histogram:
    """Cumulative-ready bucket counts (per :data:`BUCKETS`, plus +Inf), sum and count."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds
        self.count += 1


@dataclass
class SchedulerStats:
    """What the schedulers of this process did, from their ``poll_done``, ``leader`` and
    ``leader_lost`` events: jobs promoted, stuck workers cleaned, leadership lost, schedulers
    leading now, and the duration of each poll as leader (seconds)."""

    promoted: int = 0
    cleaned: int = 0
    leader_lost: int = 0
    leading: int = 0
    polls: Histogram = field(default_factory=Histogram)


class ProcessStats:
    """Counters keyed by ``(queue, class)`` plus storage errors per component; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.processed: dict[tuple[str, str], int] = {}
        self.failed: dict[tuple[str, str], int] = {}
        self.retried: dict[tuple[str, str], int] = {}
        self.durations: dict[tuple[str, str], Histogram] = {}
        self.storage_errors: dict[str, int] = {}
        self.scheduler = SchedulerStats()
        self._series: set[tuple[str, str]] = set()

    def _key(self, queue: str, job: Any) -> tuple[str, str]:
        name = job.class_name if isinstance(job, Job) and job.class_name else MALFORMED
        key = (str(queue), str(name))
        if key not in self._series:
            if len(self._series) >= MAX_SERIES:
                return (OTHER, OTHER)
            self._series.add(key)
        return key

    def job_done(self, queue: str, job: Any, ok: bool, duration: float) -> None:
        """Count one success (``ok``) or failure of ``job`` on ``queue`` taking ``duration`` s."""
        with self._lock:
            key = self._key(queue, job)
            target = self.processed if ok else self.failed
            target[key] = target.get(key, 0) + 1
            self.durations.setdefault(key, Histogram()).observe(max(0.0, float(duration)))

    def job_retried(self, queue: str, job: Any) -> None:
        """Count one attempt that failed and was re-scheduled by the Retry plugin."""
        with self._lock:
            key = self._key(queue, job)
            self.retried[key] = self.retried.get(key, 0) + 1

    def storage_error(self, component: str) -> None:
        """Count one storage error seen by ``component`` (``worker``/``scheduler``/``pool``)."""
        with self._lock:
            self.storage_errors[component] = self.storage_errors.get(component, 0) + 1

    def snapshot(self) -> ProcessStats:
        """A consistent copy, for a scrape."""
        copy = ProcessStats()
        with self._lock:
            copy.processed = dict(self.processed)
            copy.failed = dict(self.failed)
            copy.retried = dict(self.retried)
            copy.durations = {
                k: Histogram(list(h.counts), h.total, h.count) for k, h in self.durations.items()
            }
            copy.storage_errors = dict(self.storage_errors)
            sched = self.scheduler
            copy.scheduler = SchedulerStats(
                sched.promoted,
                sched.cleaned,
                sched.leader_lost,
                sched.leading,
                Histogram(list(sched.polls.counts), sched.polls.total, sched.polls.count),
            )
        return copy

    def poll_done(self, promoted: int, cleaned: int, duration: float) -> None:
        """Count one scheduler poll as leader that promoted ``promoted`` delayed jobs and
        cleaned ``cleaned`` stuck workers in ``duration`` seconds."""
        with self._lock:
            self.scheduler.promoted += max(0, int(promoted))
            self.scheduler.cleaned += max(0, int(cleaned))
            self.scheduler.polls.observe(max(0.0, float(duration)))

    def leadership(self, change: int, lost: bool = False) -> None:
        """A scheduler of this process became leader (``change`` 1) or stopped leading (-1;
        ``lost`` when another took the lock rather than it releasing it at its end)."""
        with self._lock:
            self.scheduler.leading = max(0, self.scheduler.leading + change)
            if lost:
                self.scheduler.leader_lost += 1

    def reset(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self.processed.clear()
            self.failed.clear()
            self.retried.clear()
            self.durations.clear()
            self.storage_errors.clear()
            self.scheduler = SchedulerStats()
            self._series.clear()


PROCESS = ProcessStats()
"""The process-wide counters the metrics export."""


Subscribe = Callable[[str, Callable[..., Any]], Any]
"""``subscribe(event, handler)``: an emitter's ``on``, or one adapted to ``App.on``."""


def watch_workers(subscribe: Subscribe, stats: ProcessStats = PROCESS, *, pool: bool) -> None:
    """Feed ``stats`` from the events of a Worker (``pool=False``) or a MultiWorker
    (``pool=True``: child events carry the child's name first); ``subscribe`` is the
    emitter's ``on``."""
    skip = 1 if pool else 0

    def success(*args: Any) -> None:
        queue, job, _result, duration = args[skip : skip + 4]
        stats.job_done(queue, job, True, duration)

    def failure(*args: Any) -> None:
        queue, job, _error, duration = args[skip : skip + 4]
        stats.job_done(queue, job, False, duration)

    def retried(*args: Any) -> None:
        queue, job = args[skip : skip + 2]
        stats.job_retried(queue, job)

    def error(*args: Any) -> None:
        # a child's error(name, exc, queue, job); the pool's own error(exc)
        exc = args[skip] if pool and len(args) > 1 else args[0]
        if isinstance(exc, BackendError):
            stats.storage_error("pool" if pool and len(args) == 1 else "worker")

    subscribe("success", success)
    subscribe("failure", failure)
    subscribe("re_enqueue", retried)
    subscribe("error", error)


def watch_scheduler(subscribe: Subscribe, stats: ProcessStats = PROCESS) -> None:
    """Count a Scheduler's polls, promotions, cleaned workers, leadership and storage errors in
    ``stats`` (``subscribe``: the scheduler's ``on``)."""
    leading = False

    def error(exc: BaseException, *_: Any) -> None:
        if isinstance(exc, BackendError):
            stats.storage_error("scheduler")

    def became() -> None:
        nonlocal leading
        if not leading:
            leading = True
            stats.leadership(1)

    def stopped(lost: bool) -> None:
        nonlocal leading
        if leading:
            leading = False
            stats.leadership(-1, lost=lost)

    subscribe("error", error)
    subscribe("poll_done", stats.poll_done)
    subscribe("leader", became)
    subscribe("leader_lost", lambda: stopped(True))
    subscribe("end", lambda: stopped(False))
