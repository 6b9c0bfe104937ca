"""The Queue API: enqueue (now, at a time, after a delay), inspect, and manage failed jobs.

node-resque's ``Queue`` with its bugs fixed, written only against
:class:`~taskcore.backend.Backend`. Every method is one or a few backend calls, each atomic on its
own.

Units: ``enqueue_at`` takes a **millisecond** timestamp (or an aware ``datetime``) and
``enqueue_in`` a **millisecond** delay (or a ``timedelta``), as node-resque does; delayed jobs are
stored at whole seconds (``Math.round(ms / 1000)``). ``scheduled_at``/``del_delayed`` return
**seconds**; ``timestamps``/``all_delayed`` keys are **milliseconds**. Every other duration is in
seconds.

Enqueue hooks (``before_enqueue``/``after_enqueue``) run for jobs found in ``jobs`` on
``enqueue``, ``enqueue_front`` and ``retry_and_remove_failed``; ``enqueue_at``/``enqueue_in`` run
none (node-resque's rule).

Subclass it to change behaviour (``resque_overrides``): every public method is a coroutine that
may be overridden, and internal calls go through the public methods.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from taskcore import codec
from taskcore.arguments import check_delay_ms, check_index, check_name, check_timestamp_ms
from taskcore.errors import DuplicateJobError, MalformedPayload
from taskcore.malformed import read_job
from taskcore.plugins.base import HookContext, run_hooks
from taskcore.queue_base import FORCE_CLEAN_MARKER, WORKER_TIMEOUT_ERROR
from taskcore.queue_delayed import DelayedJobsMixin
from taskcore.queue_failed import FailedJobsMixin
from taskcore.queue_workers import WorkersMixin

__all__ = [
    "FORCE_CLEAN_MARKER",
    "LEADER_LOCK",
    "NODE_QUEUE_PREFIX",
    "WORKER_TIMEOUT_ERROR",
    "Queue",
]

LEADER_LOCK = "resque_scheduler_leader_lock"
"""The scheduler leader lock's name (node-resque's; Ruby resque-scheduler uses another)."""

NODE_QUEUE_PREFIX = "taskcore-node."
"""Queues named with this prefix are private to one App (``scope="all"`` task copies, see
:mod:`taskcore.tasks.scope`): wildcard workers never reserve from them."""


class Queue(DelayedJobsMixin, WorkersMixin, FailedJobsMixin):
    """Enqueue and inspect jobs, manage workers, locks and failed jobs on one backend.

    ``jobs`` (class name -> :class:`JobDefinition`) supplies the plugins whose enqueue hooks run;
    a class not in ``jobs`` is enqueued without hooks. ``clock`` is read for ``enqueue_in``,
    worker ages and failure dates; by default a :class:`~taskcore.clock.StorageClock` (the
    storage server's clock, re-measured before those reads when older than a minute), so a
    producer whose own clock is off still schedules ``enqueue_in`` jobs on the server's time.

    Inspection calls never raise for one record they cannot decode; they return it marked
    (:mod:`taskcore.malformed`) with its text, so everything else still shows.

    Made of mixins, one module each, over :class:`~taskcore.queue_base.QueueBase` (the backend,
    ``jobs``, the clock and :meth:`now`): delayed jobs (:mod:`taskcore.queue_delayed`), workers
    (:mod:`taskcore.queue_workers`) and failed jobs (:mod:`taskcore.queue_failed`); enqueueing,
    queues, locks and the overview are here. Every public method is on this class's MRO.
    """

    # ------------------------------------------------------------------ enqueue

    async def _enqueue(self, queue: str, func: str, args: Any, *, front: bool) -> bool:
        arrayed = codec.arrayify(args)
        payload = codec.encode_job(func, queue, arrayed)
        context = self._context(queue, func, arrayed)
        if context is not None and not await run_hooks("before_enqueue", context):
            return False
        await self.backend.push(queue, payload, front=front)
        if context is not None:
            await run_hooks("after_enqueue", context)
        return True

    async def enqueue(self, queue: str, func: str, args: Any = None) -> bool:
        """Append job ``func(*args)`` to the tail of ``queue``.

        ``args`` None means ``[]``; a non-list is wrapped as ``[args]``. Runs the job's
        ``before_enqueue`` hooks first: if one returns False nothing is written and False is
        returned. ``after_enqueue`` hooks run after the write. True when enqueued.
        """
        return await self._enqueue(queue, func, args, front=False)

    async def enqueue_front(self, queue: str, func: str, args: Any = None) -> bool:
        """As :meth:`enqueue`, but the job goes to the head of ``queue`` (worked next)."""
        return await self._enqueue(queue, func, args, front=True)

    async def enqueue_many(self, jobs: Iterable[tuple[str, str, Any]]) -> list[bool]:
        """Enqueue each ``(queue, func, args)`` at the tail of its queue, in the order given,
        with one storage round trip for the whole batch; returns one bool per job.

        Every job is encoded first: :class:`~taskcore.errors.InvalidArgument` for any bad one,
        with nothing written and no hook run. Then each job's ``before_enqueue`` hooks run, in
        order; a job they block is left out (False at its index). The rest are written by one
        atomic :meth:`~taskcore.backend.Backend.push_many`: all of them or, when it raises,
        none. Then each written job's ``after_enqueue`` hooks run, in order.
        """
        batch: list[tuple[str, str, HookContext | None]] = []
        for queue, func, args in jobs:
            arrayed = codec.arrayify(args)
            payload = codec.encode_job(func, queue, arrayed)
            batch.append((queue, payload, self._context(queue, func, arrayed)))
        written = [
            context is None or await run_hooks("before_enqueue", context) for _, _, context in batch
        ]
        await self.backend.push_many(
            [(queue, payload) for (queue, payload, _), ok in zip(batch, written, strict=True) if ok]
        )
        for (_, _, context), ok in zip(batch, written, strict=True):
            if ok and context is not None:
                await run_hooks("after_enqueue", context)
        return written

    async def enqueue_at(
        self,
        timestamp: float | datetime,
        queue: str,
        func: str,
        args: Any = None,
        *,
        suppress_duplicate: bool = False,
    ) -> bool:
        """Schedule the job for ``timestamp`` (unix **milliseconds**, or an aware datetime).

        Stored at ``Math.round(ms / 1000)`` seconds. resque keeps one copy of a payload per
        second: scheduling the same job at the same second again raises
        :class:`~taskcore.errors.DuplicateJobError`, or returns False (nothing written) with
        ``suppress_duplicate``. No plugin hooks run (node-resque's rule). True when scheduled.
        :class:`~taskcore.errors.InvalidArgument` (nothing written) for a timestamp outside
        1970..9999, NaN/inf, a bool or a naive datetime.
        """
        seconds = codec.js_round(check_timestamp_ms(timestamp) / 1000)
        payload = codec.encode_job(func, queue, args)
        if await self.backend.schedule(seconds, queue, payload):
            return True
        if suppress_duplicate:
            return False
        raise DuplicateJobError(
            f"job {payload} is already scheduled at {seconds} (unix seconds): resque keeps one "
            "copy per second; pass suppress_duplicate=True to ignore duplicates"
        )

    async def enqueue_in(
        self,
        delay: int | timedelta,
        queue: str,
        func: str,
        args: Any = None,
        *,
        suppress_duplicate: bool = False,
    ) -> bool:
        """Schedule the job ``delay`` from now: **milliseconds** (fractions are truncated, as
        node-resque's ``parseInt``), or a timedelta. Otherwise as :meth:`enqueue_at`.

        :class:`~taskcore.errors.InvalidArgument` for a negative, NaN/inf or bool delay, or one
        that reaches past year 9999.
        """
        delay_ms = check_delay_ms(delay)
        if not isinstance(delay, timedelta):
            delay_ms = float(int(delay_ms))
        at_ms = await self.now() * 1000 + delay_ms
        check_timestamp_ms(at_ms, "delay (now + delay)")
        return await self.enqueue_at(
            at_ms,
            queue,
            func,
            args,
            suppress_duplicate=suppress_duplicate,
        )

    # ------------------------------------------------------------------ queues

    async def queues(self) -> list[str]:
        """Known queue names, sorted (a queue stays known while empty until deleted)."""
        return await self.backend.list_queues()

    async def length(self, queue: str) -> int:
        """Jobs waiting in ``queue`` (0 when unknown)."""
        check_name(queue, "queue")
        return await self.backend.queue_length(queue)

    async def queued(self, queue: str, start: int = 0, stop: int = -1) -> list[codec.Job]:
        """Jobs of ``queue`` from index ``start`` to ``stop`` inclusive (negative counts from
        the end), head first. A payload that is not a resque job is returned as a
        :class:`~taskcore.malformed.MalformedJob` holding its text."""
        check_name(queue, "queue")
        check_index(start, "start")
        check_index(stop, "stop")
        payloads = await self.backend.queue_range(queue, start, stop)
        return [read_job(p, queue) for p in payloads]

    async def delete(self, queue: str, func: str, args: Any = None, count: int = 0) -> int:
        """Remove the job ``func(*args)`` from ``queue``; returns how many copies were removed.

        ``count`` 0 removes every copy, ``n > 0`` the first n from the head, ``n < 0`` the last
        ``-n`` from the tail. node-resque's ``del``.
        """
        check_index(count, "count")
        payload = codec.encode_job(func, queue, args)
        return await self.backend.remove_from_queue(queue, payload, count)

    async def del_by_function(self, queue: str, func: str, start: int = 0, stop: int = -1) -> int:
        """Remove the jobs of class ``func`` found between ``start`` and ``stop`` of ``queue``,
        whatever their args; returns how many were removed.

        For each distinct payload seen in the window, as many copies as the window holds are
        removed from the head. Entries that are not valid resque jobs never match.
        """
        check_name(queue, "queue")
        check_name(func, "func")
        check_index(start, "start")
        check_index(stop, "stop")
        matches: Counter[str] = Counter()
        for payload in await self.backend.queue_range(queue, start, stop):
            try:
                job = codec.decode_job(payload, queue)
            except MalformedPayload:
                continue
            if job.class_name == func:
                matches[payload] += 1
        removed = 0
        for payload, copies in matches.items():
            removed += await self.backend.remove_from_queue(queue, payload, copies)
        return removed

    async def delete_queue(self, queue: str) -> None:
        """Delete every job of ``queue`` and forget the queue name."""
        check_name(queue, "queue")
        await self.backend.delete_queue(queue)

    # ------------------------------------------------------------------ locks

    async def locks(self) -> dict[str, str]:
        """Every plugin lock (``lock:*`` from QueueLock, ``workerslock:*`` from JobLock):
        ``{name: value}``, names without the namespace."""
        found = await self.backend.list_locks("lock:")
        found.update(await self.backend.list_locks("workerslock:"))
        return found

    async def del_lock(self, name: str) -> int:
        """Delete the lock ``name`` (as :meth:`locks` lists it); 1 if it existed, else 0."""
        return int(await self.backend.release_lock(name))

    # ------------------------------------------------------------------ overview

    async def stats(self) -> dict[str, int]:
        """Every counter: ``processed``, ``failed`` and their per-worker ``:<name>`` forms."""
        return await self.backend.stats()

    async def leader(self) -> str | None:
        """The name of the scheduler holding leadership, or None."""
        return await self.backend.get_lock(LEADER_LOCK)

    async def details(self) -> dict[str, Any]:
        """``{"queues": {q: {"length": n}}, "workers": all_working_on(), "stats", "leader"}``."""
        queues = {q: {"length": await self.length(q)} for q in await self.queues()}
        return {
            "queues": queues,
            "workers": await self.all_working_on(),
            "stats": await self.stats(),
            "leader": await self.leader(),
        }
