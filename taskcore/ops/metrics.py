"""Prometheus metrics (needs the ``metrics`` extra: ``pip install 'taskcore[metrics]'``).

Two sources, one exposition:

* **this process** (:data:`taskcore.ops.stats.PROCESS`, fed by the events of the workers of
  every App in the process): ``taskcore_jobs_processed_total`` and
  ``taskcore_jobs_failed_total`` and ``taskcore_jobs_retried_total`` (counters, labels
  ``queue``, ``class``), ``taskcore_job_duration_seconds`` (histogram, same labels),
  ``taskcore_storage_errors_total`` (counter, label ``component``: worker/pool/scheduler);
  from the schedulers' ``poll_done``/``leader``/``leader_lost`` events:
  ``taskcore_scheduler_promoted_total`` (delayed jobs promoted),
  ``taskcore_scheduler_cleaned_workers_total`` (stuck workers cleaned),
  ``taskcore_scheduler_leader_lost_total``, ``taskcore_scheduler_leading`` (gauge: schedulers of
  this process leading now, so a cluster-wide sum should be 1) and
  ``taskcore_scheduler_poll_duration_seconds`` (histogram of polls as leader);
* **storage, read at scrape time** (so any process, even one running no workers, can export
  them): ``taskcore_queue_length`` (gauge, label ``queue``), ``taskcore_delayed_jobs``,
  ``taskcore_delayed_oldest_due_seconds`` (unix seconds; absent with no delayed job),
  ``taskcore_workers`` (gauge, label ``state``: busy/idle), ``taskcore_scheduler_leader``
  (1 when a scheduler holds the leader lock), ``taskcore_failed_jobs`` (the failed list's
  length), ``taskcore_storage_up`` (1 when this scrape could read storage) and
  ``taskcore_storage_round_trip_seconds``.

Storage is async and a Prometheus collector is not, so a scrape first reads storage
(:func:`read_storage`), then a :class:`TaskcoreCollector` built on that snapshot is collected.
Entry points: :func:`exposition` (the bytes), :func:`metrics_app` (an ASGI app to mount in the
dashboard or your own app), and ``taskcore metrics --port`` (:func:`taskcore.ops.serve.serve`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from taskcore.errors import BackendError, MalformedPayload
from taskcore.ops.info import worker_state
from taskcore.ops.stats import BUCKETS, PROCESS, Histogram, ProcessStats, SchedulerStats

try:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
        Metric,
    )
    from prometheus_client.registry import Collector
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "taskcore metrics need prometheus_client: pip install 'taskcore[metrics]'"
    ) from exc

if TYPE_CHECKING:
    from taskcore.queue import Queue

__all__ = [
    "CONTENT_TYPE_LATEST",
    "StorageSnapshot",
    "TaskcoreCollector",
    "exposition",
    "metrics_app",
    "read_storage",
]

MAX_QUEUES = 1000
"""Queues exported at most (queue names are storage data; the rest are left out)."""


@dataclass
class StorageSnapshot:
    """What one scrape read from storage; ``up`` False when it could not."""

    up: bool = False
    round_trip: float | None = None
    queues: dict[str, int] = field(default_factory=dict)
    delayed: int = 0
    oldest_due: int | None = None
    busy: int = 0
    idle: int = 0
    leader: bool = False
    failed: int = 0


async def read_storage(queue: Queue) -> StorageSnapshot:
    """Read the storage gauges through ``queue``; storage errors give ``up=False``."""
    snap = StorageSnapshot()
    try:
        started = time.perf_counter()
        await queue.backend.ping()
        snap.round_trip = time.perf_counter() - started
        for name in (await queue.queues())[:MAX_QUEUES]:
            snap.queues[name] = await queue.length(name)
        first = await queue.backend.delayed_timestamps_page(None, 1)
        snap.oldest_due = first[0] if first else None
        snap.delayed = await queue.delayed_count()
        try:
            working = await queue.all_working_on()
        except MalformedPayload:
            working = {w.name: "started" for w in await queue.backend.list_workers()}
        for record in working.values():
            state = worker_state(record, time.time())["state"]
            if state == "idle":
                snap.idle += 1
            else:
                snap.busy += 1
        snap.leader = bool(await queue.leader())
        snap.failed = await queue.failed_count()
    except (BackendError, OSError):
        return StorageSnapshot(up=False)
    snap.up = True
    return snap


class TaskcoreCollector(Collector):
    """A Prometheus collector over one storage snapshot and this process's counters."""

    def __init__(self, storage: StorageSnapshot, process: ProcessStats) -> None:
        self.storage = storage
        self.process = process

    def collect(self) -> Iterator[Metric]:
        p, s = self.process, self.storage
        for name, doc, series in (
            ("taskcore_jobs_processed", "Jobs that succeeded in this process.", p.processed),
            ("taskcore_jobs_failed", "Jobs that failed in this process.", p.failed),
            ("taskcore_jobs_retried", "Failed attempts re-scheduled by Retry.", p.retried),
        ):
            counter = CounterMetricFamily(name, doc, labels=["queue", "class"])
            for (queue, cls), value in sorted(series.items()):
                counter.add_metric([queue, cls], value)
            yield counter
        hist = HistogramMetricFamily(
            "taskcore_job_duration_seconds",
            "Run time of jobs worked in this process (seconds).",
            labels=["queue", "class"],
        )
        for (queue, cls), h in sorted(p.durations.items()):
            hist.add_metric([queue, cls], _buckets(h), h.total)
        yield hist
        yield from self._scheduler(p.scheduler)
        errors = CounterMetricFamily(
            "taskcore_storage_errors", "Storage errors seen in this process.", labels=["component"]
        )
        for component, value in sorted(p.storage_errors.items()):
            errors.add_metric([component], value)
        yield errors
        yield GaugeMetricFamily(
            "taskcore_storage_up", "1 if this scrape could read storage.", value=int(s.up)
        )
        if not s.up:
            return
        yield from self._storage(s)

    def _scheduler(self, sched: SchedulerStats) -> Iterator[Metric]:
        for name, doc, value in (
            ("taskcore_scheduler_promoted", "Delayed jobs promoted here.", sched.promoted),
            ("taskcore_scheduler_cleaned_workers", "Stuck workers cleaned here.", sched.cleaned),
            ("taskcore_scheduler_leader_lost", "Leader locks lost here.", sched.leader_lost),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        yield GaugeMetricFamily(
            "taskcore_scheduler_leading",
            "Schedulers of this process holding the leader lock now.",
            value=sched.leading,
        )
        polls = HistogramMetricFamily(
            "taskcore_scheduler_poll_duration_seconds",
            "Run time of each scheduler poll as leader in this process (seconds).",
        )
        polls.add_metric([], _buckets(sched.polls), sched.polls.total)
        yield polls

    def _storage(self, s: StorageSnapshot) -> Iterator[Metric]:
        rtt = GaugeMetricFamily(
            "taskcore_storage_round_trip_seconds", "Storage ping round trip at this scrape."
        )
        rtt.add_metric([], s.round_trip or 0.0)
        yield rtt
        lengths = GaugeMetricFamily("taskcore_queue_length", "Jobs waiting.", labels=["queue"])
        for queue, length in sorted(s.queues.items()):
            lengths.add_metric([queue], length)
        yield lengths
        yield GaugeMetricFamily("taskcore_delayed_jobs", "Delayed jobs.", value=s.delayed)
        if s.oldest_due is not None:
            yield GaugeMetricFamily(
                "taskcore_delayed_oldest_due_seconds",
                "Due time of the oldest delayed job (unix seconds).",
                value=s.oldest_due,
            )
        workers = GaugeMetricFamily("taskcore_workers", "Registered workers.", labels=["state"])
        workers.add_metric(["busy"], s.busy)
        workers.add_metric(["idle"], s.idle)
        yield workers
        yield GaugeMetricFamily(
            "taskcore_scheduler_leader",
            "1 if a scheduler holds the leader lock.",
            value=int(s.leader),
        )
        yield GaugeMetricFamily("taskcore_failed_jobs", "Failed list length.", value=s.failed)


def _buckets(h: Histogram) -> list[tuple[str, float]]:
    """``h``'s counts as Prometheus' cumulative ``(le, count)`` pairs."""
    cumulative, buckets = 0, []
    for bound, count in zip([*map(str, BUCKETS), "+Inf"], h.counts, strict=True):
        cumulative += count
        buckets.append((bound, float(cumulative)))
    return buckets


async def exposition(queue: Queue, process: ProcessStats = PROCESS) -> bytes:
    """The Prometheus text exposition: storage read now through ``queue``, plus ``process``."""
    storage = await read_storage(queue)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TaskcoreCollector(storage, process.snapshot()))
    data: bytes = generate_latest(registry)
    return data


ASGIApp = Callable[[dict[str, Any], Any, Any], Any]


def metrics_app(queue: Queue | Callable[[], Queue], process: ProcessStats = PROCESS) -> ASGIApp:
    """An ASGI app answering every GET/HEAD with :func:`exposition` (mount it at ``/metrics``).

    ``queue`` may be a callable returning the Queue (e.g. ``lambda: app.queue``), read per
    request, so the app can be built before the App is open.
    """

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            return
        if scope.get("method") not in ("GET", "HEAD"):
            await _respond(send, 405, b"use GET\n", "text/plain; charset=utf-8")
            return
        target = queue() if callable(queue) else queue
        body = await exposition(target, process)
        await _respond(
            send, 200, b"" if scope["method"] == "HEAD" else body, CONTENT_TYPE_LATEST, len(body)
        )

    return app


async def _respond(
    send: Any, status: int, body: bytes, content_type: str, length: int | None = None
) -> None:
    size = len(body) if length is None else length
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(size).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
