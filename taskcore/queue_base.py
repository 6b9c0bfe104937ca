"""The state every part of the Queue API shares: the backend, the job definitions, the clock.

:class:`QueueBase` is the root of :class:`~taskcore.queue.Queue` and of the mixins it is made of
(:mod:`taskcore.queue_delayed`, :mod:`taskcore.queue_workers`, :mod:`taskcore.queue_failed`).
Users import and subclass :class:`~taskcore.queue.Queue`, never this class. Also here: the two
strings of a force-clean failure record, which the workers mixin writes and the failed-jobs
mixin looks for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from taskcore.backend import Backend
from taskcore.clock import Clock, StorageClock
from taskcore.jobs import JobDefinition
from taskcore.plugins.base import HookContext

if TYPE_CHECKING:
    from taskcore.queue import Queue

__all__ = ["FORCE_CLEAN_MARKER", "WORKER_TIMEOUT_ERROR", "QueueBase"]

WORKER_TIMEOUT_ERROR = "Worker Timeout (killed manually)"
"""``exception`` and ``error`` of the failure recorded for a force-cleaned worker's job."""

FORCE_CLEAN_MARKER = "queue#forceCleanWorker"
"""``backtrace[1]`` of a force-clean failure; :meth:`Queue.retry_stuck_jobs
<taskcore.queue.Queue.retry_stuck_jobs>` looks for it."""


class QueueBase:
    """A backend, the job definitions whose enqueue hooks run, and a clock (see
    :class:`~taskcore.queue.Queue` for what each argument means)."""

    def __init__(
        self,
        backend: Backend,
        jobs: Mapping[str, JobDefinition] | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.backend = backend
        self.jobs: Mapping[str, JobDefinition] = jobs if jobs is not None else {}
        self.clock: Clock = clock if clock is not None else StorageClock(backend)

    async def now(self) -> float:
        """The clock's ``now`` in unix seconds, after refreshing a StorageClock's offset
        (a no-op when measured less than a minute ago; never raises)."""
        if isinstance(self.clock, StorageClock):
            await self.clock.refresh()
        return self.clock.now()

    def _context(self, queue: str, func: str, args: list[Any]) -> HookContext | None:
        """The hook context for enqueueing ``func(*args)`` to ``queue``, or None when ``func``
        is not in :attr:`jobs` or has no plugins (no hook runs then)."""
        job = self.jobs.get(func)
        if job is None or not job.plugins:
            return None
        # A QueueBase is only ever built as part of a Queue: plugins get the whole API.
        queue_api = cast("Queue", self)
        return HookContext(func=func, queue=queue, args=args, job=job, queue_api=queue_api)
