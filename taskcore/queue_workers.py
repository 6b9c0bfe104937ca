"""Workers of the Queue API: list them, read what they work on, force-clean dead ones.

A mixin of :class:`~taskcore.queue.Queue` (import that). Ages are in **seconds**. A force-clean
moves a dead worker's current job to the failed list in the same atomic backend step that
removes the worker, so no job is lost; :mod:`taskcore.queue_failed` retries those records.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

from taskcore import codec
from taskcore.backend import CurrentJob, WorkerId
from taskcore.malformed import read_current, read_failure
from taskcore.queue_base import FORCE_CLEAN_MARKER, WORKER_TIMEOUT_ERROR, QueueBase

__all__ = ["WorkersMixin"]


class WorkersMixin(QueueBase):
    """The worker calls of :class:`~taskcore.queue.Queue`."""

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
                since = codec.parse_date(current.run_at)
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
