"""A drain across a storage failover: the counting job, the workers' lifetime, the figures.

The failover tests (a Redis Sentinel failover in ``test_redis_topologies.py``, a PostgreSQL
primary switch in ``test_postgres_failover.py``) each enqueue ``total`` jobs ``record(i)``,
start workers, move the primary once a quarter of the jobs ran, and check that every job ran at
least once. What they share lives here: :class:`Drain` counts the runs, :func:`running_workers`
starts and stops the workers, and :func:`report` records and prints what the switch cost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence

from conformance_tests.engine_support import WAIT, EventLog
from taskcore.backend import Backend
from taskcore.worker import Worker

__all__ = ["JOB", "Drain", "report", "running_workers"]

JOB = "record"
"""The class name the drained jobs are enqueued under."""

WORK = 0.02
"""Seconds each job works, so the drain is still going when the primary moves."""


class Drain:
    """Counts the runs of job ``record(i)``: :attr:`quarter` is set once a quarter of ``total``
    distinct jobs ran, :attr:`done` once ``total`` did (jobs numbered ``total`` and up, which a
    test adds after the drain, count too)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.performed: Counter[int] = Counter()
        self.quarter = asyncio.Event()
        self.done = asyncio.Event()

    async def record(self, i: int) -> None:
        """The job: count run ``i``, then work :data:`WORK` seconds."""
        self.performed[i] += 1
        if len(self.performed) >= self.total // 4:
            self.quarter.set()
        if len(self.performed) >= self.total:
            self.done.set()
        await asyncio.sleep(WORK)  # the job's work: keeps the drain going through the switch

    @property
    def left(self) -> int:
        """Jobs of ``total`` not run yet."""
        return max(0, self.total - len(self.performed))

    @property
    def duplicates(self) -> int:
        """Runs beyond the first, summed over every job (at-least-once delivery's cost)."""
        return sum(count - 1 for count in self.performed.values())

    async def until_done(self, timeout: float) -> None:
        """Wait until ``total`` jobs ran; AssertionError naming how many did not, after
        ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self.done.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.left} jobs never ran within {timeout:.0f}s") from None


@contextlib.asynccontextmanager
async def running_workers(
    backends: Sequence[Backend], drain: Drain, queues: Callable[[int], list[str]]
) -> AsyncIterator[list[EventLog]]:
    """Open each backend and start a worker ``failover-<n>`` on it, working ``queues(n)`` with
    the job :meth:`Drain.record` (0.5 s poll timeout); yields each worker's event log. On exit
    every worker ends and every backend closes, whatever happened."""
    workers = [
        Worker(b, {JOB: drain.record}, queues=queues(n), name=f"failover-{n}", timeout=0.5)
        for n, b in enumerate(backends)
    ]
    logs = [EventLog(w) for w in workers]
    try:
        for b, w in zip(backends, workers, strict=True):
            await b.open()
            await w.start()
        yield logs
    finally:
        for w in workers:
            await asyncio.wait_for(w.end(), WAIT)
        for b in backends:
            await b.aclose()


def report(
    label: str,
    drain: Drain,
    logs: Sequence[EventLog],
    left_at_switch: int,
    record_property: Callable[[str, object], None],
) -> None:
    """Record ``left_at_switch``, ``duplicates`` and ``worker_errors`` as test properties and
    print them in one line headed ``label``."""
    errors = sum(1 for log in logs for name in log.names() if name == "error")
    record_property("left_at_switch", left_at_switch)
    record_property("duplicates", drain.duplicates)
    record_property("worker_errors", errors)
    print(
        f"{label}: {drain.total} jobs, {left_at_switch} left at the switch, lost 0, "
        f"performed twice {drain.duplicates}, worker errors {errors}"
    )
