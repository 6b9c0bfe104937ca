"""Failed jobs of the Queue API: count, list, remove and retry them, and retry stuck jobs.

A mixin of :class:`~taskcore.queue.Queue` (import that). Retrying runs the job's enqueue hooks
(``before_enqueue``/``after_enqueue``), as :meth:`~taskcore.queue.Queue.enqueue` does, and
removes the failure and pushes the job in one atomic backend step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from taskcore import codec
from taskcore.arguments import check_index, check_limit
from taskcore.errors import BackendUnavailable, InvalidArgument, JobNotFound, MalformedPayload
from taskcore.malformed import MalformedFailure, read_failure
from taskcore.plugins.base import run_hooks
from taskcore.queue_base import FORCE_CLEAN_MARKER, QueueBase

__all__ = ["FailedJobsMixin"]

_PAGE = 100
"""Failure records read per round trip by :meth:`FailedJobsMixin.retry_stuck_jobs`."""

logger = logging.getLogger("taskcore.queue")


class FailedJobsMixin(QueueBase):
    """The failed-job calls of :class:`~taskcore.queue.Queue`."""

    async def failed_count(self) -> int:
        """Length of the failed list."""
        return await self.backend.failure_count()

    async def failed(self, start: int = 0, stop: int = -1) -> list[codec.Failure]:
        """Failures from ``start`` to ``stop`` inclusive (ints; negative counts from the end),
        oldest first. A record that cannot be decoded is a
        :class:`~taskcore.malformed.MalformedFailure` holding its text (remove it with
        :meth:`remove_failed`)."""
        check_index(start, "start")
        check_index(stop, "stop")
        return [read_failure(r) for r in await self.backend.failures(start, stop)]

    async def remove_failed(self, failure: codec.Failure | str) -> int:
        """Remove one failure (a :class:`~taskcore.codec.Failure` or its raw record), matched
        byte for byte; 1 if removed, 0 if it was not in the list."""
        raw = failure.raw if isinstance(failure, codec.Failure) else failure
        return await self.backend.remove_failure(raw)

    async def clear_failed(self) -> int:
        """Remove every failed job's record (resque's ``Resque::Failure.clear``); returns how
        many. One atomic step on the built-in drivers, whatever the list's length; the
        ``failed`` counters keep their values."""
        removed = await self.backend.clear_failures()
        logger.info("cleared the failed list: %d record(s) removed", removed)
        return removed

    async def retry_and_remove_failed(self, failure: codec.Failure | str) -> bool:
        """Re-enqueue a failed job at the tail of its queue and remove its failure record.

        The job's ``before_enqueue`` hooks run first: if one blocks, nothing changes (the
        failure stays) and False is returned. Then the removal and the push happen in one
        atomic backend step; :class:`~taskcore.errors.JobNotFound` if the record is no longer
        in the failed list. ``after_enqueue`` hooks run last. True when re-enqueued.
        :class:`~taskcore.errors.MalformedPayload` for a record or job that cannot be decoded
        (nothing changes; remove it with :meth:`remove_failed`).
        """
        if isinstance(failure, str):
            failure = codec.decode_failure(failure)
        if isinstance(failure, MalformedFailure):
            raise MalformedPayload(
                f"cannot retry a failure record that cannot be decoded ({failure.reason}); "
                "remove it with remove_failed"
            )
        job = failure.job
        queue = failure.queue or job.queue
        payload = codec.encode_job(job.class_name, queue, job.args)
        context = self._context(queue, job.class_name, job.args)
        if context is not None and not await run_hooks("before_enqueue", context):
            return False
        if not await self.backend.retry_failure(failure.raw, queue, payload):
            raise JobNotFound(
                f"this failure is not in the failed list (already retried or removed?): "
                f"{failure.raw[:120]!r}"
            )
        if context is not None:
            await run_hooks("after_enqueue", context)
        return True

    async def retry_stuck_jobs(self, upper: int | None = None) -> int:
        """Retry every failure recorded by :meth:`force_clean_worker` (``backtrace[1] ==
        "queue#forceCleanWorker"``) among the first ``upper`` records (all when None).

        Returns how many were re-enqueued. Records blocked by a hook, malformed, or removed
        concurrently are left alone, and so is a record whose retry fails for any other reason
        than storage being unreachable (logged at ERROR on ``taskcore.queue``): one bad record
        never stops the others. Walks the list by cursor
        (:meth:`~taskcore.backend.Backend.failures_after`, 100 records a page), so a walk is
        linear in the list's length and reads each record once, none skipped, while this or
        any other process removes records. The next page is read before this page's records
        are retried, so the cursor never rests on a record this walk removed.
        """
        check_limit(upper, "upper")
        retried = 0

        def size(scanned: int) -> int:
            return _PAGE if upper is None else min(_PAGE, upper - scanned)

        page, cursor = await self.backend.failures_after(None, size(0))
        scanned = len(page)
        while page:
            following: list[str] = []
            if len(page) == _PAGE and (upper is None or scanned < upper):
                following, cursor = await self.backend.failures_after(cursor, size(scanned))
                scanned += len(following)
            for raw in page:
                try:
                    failure = codec.decode_failure(raw)
                except MalformedPayload:
                    continue
                if await self._retry_stuck(failure):
                    retried += 1
            page = following
        return retried

    async def retry_stuck(self, failures: Iterable[codec.Failure]) -> int:
        """Retry these failures, as :meth:`force_clean_worker` returned them, without reading
        the failed list: the cost follows ``len(failures)``, not the list's length (the
        scheduler's ``retry_stuck_jobs`` path). Only force-clean records are retried, each as
        :meth:`retry_stuck_jobs` does (one that is blocked, malformed, gone or failing is left
        alone); returns how many were re-enqueued."""
        retried = 0
        for failure in failures:
            if await self._retry_stuck(failure):
                retried += 1
        return retried

    async def _retry_stuck(self, failure: codec.Failure) -> bool:
        """Retry one force-clean failure; False when it is not one or could not be retried
        (only storage being unreachable raises)."""
        trace = failure.backtrace or []
        if len(trace) < 2 or trace[1] != FORCE_CLEAN_MARKER:
            return False
        try:
            return await self.retry_and_remove_failed(failure)
        except (JobNotFound, MalformedPayload, InvalidArgument):
            return False
        except BackendUnavailable:
            raise
        except Exception as exc:
            logger.error("could not retry stuck job %.200r: %s", failure.raw, exc)
            return False
