"""An idle worker waits on its wake-up alone (no stop task racing it): a stop request still
ends the wait at once, and a push still starts the job at once, however long the poll
``timeout`` is."""

from __future__ import annotations

import asyncio

from conformance_tests.engine_support import WAIT, EventLog
from taskcore.backend import Backend
from taskcore.queue import Queue
from taskcore.worker import Worker

HOUR = 3600.0


async def test_an_idle_worker_stops_at_once_when_asked(backend: Backend) -> None:
    worker = Worker(backend, {}, queues=["idle"], name="idle:1", timeout=HOUR)
    log = EventLog(worker)
    await worker.start()
    await log.wait_for("pause")  # idle, waiting on its wake-up for up to an hour
    await asyncio.wait_for(worker.end(), WAIT)
    assert not worker.running
    assert await backend.list_workers() == []


async def test_a_push_starts_the_job_of_an_idle_worker_at_once(backend: Backend) -> None:
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    worker = Worker(backend, {"job": job}, queues=["idle"], name="idle:2", timeout=HOUR)
    log = EventLog(worker)
    await worker.start()
    try:
        await log.wait_for("pause")
        await Queue(backend).enqueue("idle", "job", [])
        await asyncio.wait_for(ran.wait(), WAIT)
    finally:
        await worker.end()
