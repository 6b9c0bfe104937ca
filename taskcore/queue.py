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

import logging
import math
import socket
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from taskcore import codec
from taskcore.arguments import (
    check_delay_ms,
    check_index,
    check_limit,
    check_name,
    check_timestamp_ms,
)
from taskcore.backend import Backend, CurrentJob, WorkerId
from taskcore.clock import Clock, StorageClock
from taskcore.errors import (
    BackendUnavailable,
    DuplicateJobError,
    InvalidArgument,
    JobNotFound,
    MalformedPayload,
)
from taskcore.jobs import JobDefinition
from taskcore.malformed import MalformedFailure, read_current, read_failure, read_job
from taskcore.plugins.base import HookContext, run_hooks

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

WORKER_TIMEOUT_ERROR = "Worker Timeout (killed manually)"
"""``exception`` and ``error`` of the failure recorded for a force-cleaned worker's job."""

FORCE_CLEAN_MARKER = "queue#forceCleanWorker"
"""``backtrace[1]`` of a force-clean failure; :meth:`Queue.retry_stuck_jobs` looks for it."""

_PAGE = 100

_DELAYED_BATCH = 1000
"""Timestamps read per round trip by :meth:`Queue.all_delayed`."""

logger = logging.getLogger("taskcore.queue")


class Queue:
    """Enqueue and inspect jobs, manage workers, locks and failed jobs on one backend.

    ``jobs`` (class name -> :class:`JobDefinition`) supplies the plugins whose enqueue hooks run;
    a class not in ``jobs`` is enqueued without hooks. ``clock`` is read for ``enqueue_in``,
    worker ages and failure dates; by default a :class:`~taskcore.clock.StorageClock` (the
    storage server's clock, re-measured before those reads when older than a minute), so a
    producer whose own clock is off still schedules ``enqueue_in`` jobs on the server's time.

    Inspection calls never raise for one record they cannot decode; they return it marked
    (:mod:`taskcore.malformed`) with its text, so everything else still shows.
    """

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

    # ------------------------------------------------------------------ enqueue

    def _context(self, queue: str, func: str, args: list[Any]) -> HookContext | None:
        job = self.jobs.get(func)
        if job is None or not job.plugins:
            return None
        return HookContext(func=func, queue=queue, args=args, job=job, queue_api=self)

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

    # ------------------------------------------------------------------ delayed jobs

    async def del_delayed(self, queue: str, func: str, args: Any = None) -> list[int]:
        """Unschedule the job everywhere; returns the **seconds** it was scheduled at."""
        return await self.backend.remove_delayed(codec.encode_job(func, queue, args))

    async def scheduled_at(self, queue: str, func: str, args: Any = None) -> list[int]:
        """The **seconds** at which the job is scheduled, ascending (empty if none)."""
        return await self.backend.scheduled_at(codec.encode_job(func, queue, args))

    async def timestamps_page(self, after: float | None = None, limit: int = 100) -> list[int]:
        """Up to ``limit`` timestamps holding delayed jobs, in **milliseconds**, ascending,
        each later than ``after`` (ms; None: from the first). Page on by passing the last
        one returned: the cost of a page follows ``limit``, not the number of delayed jobs."""
        return [
            ts * 1000
            for ts in await self.backend.delayed_timestamps_page(
                _after_seconds(after), _page_limit(limit)
            )
        ]

    async def delayed_page(
        self, after: float | None = None, limit: int = 100
    ) -> dict[int, list[codec.Job]]:
        """The delayed jobs of up to ``limit`` timestamps later than ``after`` (ms; None: from
        the first), by timestamp in **milliseconds**, ascending, scheduling order kept; one
        atomic read whose cost follows the page, not the number of delayed jobs. A payload
        that is not a resque job is a :class:`~taskcore.malformed.MalformedJob`."""
        page = await self.backend.delayed_page(_after_seconds(after), _page_limit(limit))
        return {ts * 1000: [read_job(p) for p in payloads] for ts, payloads in page}

    async def timestamps(self, after: float | None = None, limit: int | None = None) -> list[int]:
        """Timestamps holding delayed jobs, in **milliseconds**, ascending numerically
        (node-resque sorts them as strings), each later than ``after`` (ms; None: from the
        first).

        With ``limit``: one page, as :meth:`timestamps_page` (its cost follows ``limit``, not
        the number of delayed jobs). Without: every one, read in pages of 1,000 (a round trip
        each, each as cheap at 500k delayed jobs as at 10): linear in the number of
        timestamps, as any full listing, and not one atomic snapshot.
        """
        if limit is not None:
            return await self.timestamps_page(after, limit)
        stamps: list[int] = []
        cursor = _after_seconds(after)
        while True:
            page = await self.backend.delayed_timestamps_page(cursor, _DELAYED_BATCH)
            stamps += (ts * 1000 for ts in page)
            if len(page) < _DELAYED_BATCH:
                return stamps
            cursor = page[-1]

    async def delayed_at(self, timestamp_ms: float) -> tuple[list[codec.Job], int]:
        """The jobs scheduled at the second ``timestamp_ms`` rounds to, and that second
        (a payload that is not a resque job as a :class:`~taskcore.malformed.MalformedJob`)."""
        seconds = codec.ms_to_seconds(check_timestamp_ms(timestamp_ms, "timestamp_ms"))
        payloads = await self.backend.delayed_at(seconds)
        return [read_job(p) for p in payloads], seconds

    async def del_delayed_at(self, timestamp_ms: float | datetime) -> list[codec.Job]:
        """Unschedule every job at the second ``timestamp_ms`` (unix **milliseconds**, as
        :meth:`timestamps` lists them, or an aware datetime) rounds to, in one atomic step;
        returns the jobs removed, in scheduling order (a payload that is not a resque job as
        a :class:`~taskcore.malformed.MalformedJob`). Stellar's "remove all tasks at a
        timestamp"; the timestamp then vanishes from :meth:`timestamps`."""
        seconds = codec.ms_to_seconds(check_timestamp_ms(timestamp_ms, "timestamp_ms"))
        return [read_job(p) for p in await self.backend.remove_delayed_at(seconds)]

    async def all_delayed(self) -> dict[int, list[codec.Job]]:
        """Every delayed job by timestamp in **milliseconds**, ascending, scheduling order kept.

        Read in pages of 1,000 timestamps (:meth:`delayed_page`), one round trip each: not one
        atomic snapshot, so a timestamp promoted while this runs may be left out. A payload
        that is not a resque job is a :class:`~taskcore.malformed.MalformedJob`.
        """
        result: dict[int, list[codec.Job]] = {}
        after: int | None = None
        while True:
            page = await self.backend.delayed_page(after, _DELAYED_BATCH)
            for ts, payloads in page:
                result[ts * 1000] = [read_job(p) for p in payloads]
            if len(page) < _DELAYED_BATCH:
                return result
            after = page[-1][0]

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

    # ------------------------------------------------------------------ workers

    async def workers(self) -> dict[str, str]:
        """Registered workers: ``{name: "q1,q2"}`` (``"*"`` for a wildcard worker)."""
        return {w.name: w.queues_str for w in await self.backend.list_workers()}

    async def working_on(self, name: str, queues: str | Sequence[str]) -> str | None:
        """The raw current-job record of worker ``name`` working ``queues`` (a ``"q1,q2"``
        string or a sequence), or None when it is idle or unknown."""
        names = tuple(queues.split(",")) if isinstance(queues, str) else tuple(queues)
        current = await self.backend.current_job(WorkerId(name, names))
        return None if current is None else current.raw

    async def all_working_on(self) -> dict[str, dict[str, Any] | str]:
        """Every registered worker: its parsed current-job record, or ``"started"`` when idle.

        A record that is not JSON shows as ``{"run_at", "queue", "worker", "payload"}`` with a
        payload that is not a JSON object as ``{"malformed_payload": <its text>}``.
        """
        result: dict[str, dict[str, Any] | str] = {}
        for worker, current in (await self.backend.current_jobs()).items():
            result[worker.name] = "started" if current is None else read_current(current)
        return result

    async def force_clean_worker(self, name: str) -> list[codec.Failure]:
        """Remove every trace of worker ``name`` (registration, ping, started time, per-worker
        counters, current job) in one atomic backend step.

        A job it was working on is moved to the failed list (``failed`` +1) with exception and
        error ``"Worker Timeout (killed manually)"`` and backtrace
        ``["killed by <host> at <date>", "queue#forceCleanWorker", "taskcore"]``; those
        failures are returned (empty for an idle or unknown worker; no counter moves then).
        A current job whose payload cannot be decoded is recorded all the same, its text kept
        losslessly as ``{"malformed_payload": ...}`` (:func:`taskcore.codec.embed_payload`).
        """
        failed_at = codec.js_date(await self.now())
        backtrace = [
            f"killed by {socket.gethostname()} at {failed_at}",
            FORCE_CLEAN_MARKER,
            "taskcore",
        ]

        def failure_for(job: CurrentJob) -> str:
            return codec.encode_failure(
                worker=job.worker.name,
                queue=job.queue,
                payload=codec.embed_payload(job.payload),
                exception=WORKER_TIMEOUT_ERROR,
                error=WORKER_TIMEOUT_ERROR,
                backtrace=backtrace,
                failed_at=failed_at,
            )

        cleaned = await self.backend.clean_worker(name, failure_for)
        return [read_failure(failure_for(job)) for job in cleaned]

    async def clean_old_workers(self, age: float) -> dict[str, list[codec.Failure]]:
        """Force-clean workers that look dead: ``{name: failures recorded}``.

        A worker is old when its current job started more than ``age`` **seconds** ago, or,
        when idle (or its job's start is unreadable), when its last heartbeat (else its
        registration) is more than ``age`` seconds old. node-resque never cleaned idle workers.
        Heartbeats of workers that are no longer registered are cleaned the same way.
        """
        now = await self.now()
        pings = {p.name: p.time for p in await self.backend.worker_pings()}
        seen: dict[str, float | None] = {}
        for worker, current in (await self.backend.current_jobs()).items():
            since: float | None = None
            if current is not None:
                since = _parse_date(current.run_at)
            if since is None:
                ping = pings.get(worker.name)
                since = float(ping) if ping is not None else None
            if since is None:
                started = await self.backend.worker_started(worker)
                since = float(started) if started is not None else None
            if since is not None:
                previous = seen.get(worker.name)
                seen[worker.name] = since if previous is None else min(previous, since)
            else:
                seen.setdefault(worker.name, None)
        for name, time in pings.items():
            seen.setdefault(name, float(time))
        result: dict[str, list[codec.Failure]] = {}
        for name, since in seen.items():
            if since is not None and now - since > age:
                result[name] = await self.force_clean_worker(name)
        return result

    # ------------------------------------------------------------------ failed jobs

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


def _after_seconds(after_ms: float | None) -> int | None:
    """A page cursor in ms as the whole second after which the next page starts."""
    if after_ms is None:
        return None
    return math.floor(check_timestamp_ms(after_ms, "after") / 1000)


def _page_limit(limit: Any) -> int:
    """A page size: an int >= 1."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidArgument(f"limit: expected an int >= 1 (a page size), got {limit!r}")
    return limit


def _parse_date(text: str) -> float | None:
    """:func:`codec.parse_date`, with None for any date it cannot read (a hostile record)."""
    try:
        return codec.parse_date(text)
    except (ValueError, OverflowError):
        return None
