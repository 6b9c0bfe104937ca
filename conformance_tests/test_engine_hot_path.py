"""The worker's hot path on every driver: a job is awaited in the worker's own task (no task per
job), and cancelling it at its timeout or at the shutdown deadline still stops the job alone,
records it, and leaves the worker working."""

from __future__ import annotations

import asyncio
from typing import Any

from conformance_tests.engine_support import WAIT, EventLog, until_sleeping
from taskcore import codec
from taskcore.backend import Backend
from taskcore.clock import FakeClock
from taskcore.jobs import Jobs
from taskcore.queue import Queue
from taskcore.worker import Worker


def make_worker(backend: Backend, jobs: Jobs, **options: Any) -> Worker:
    options.setdefault("name", "hot:1")
    options.setdefault("queues", ["hot"])
    options.setdefault("timeout", 30.0)
    return Worker(backend, jobs, **options)


async def start_on(
    backend: Backend, jobs: Jobs, clock: FakeClock, enqueue: list[str]
) -> tuple[Worker, EventLog]:
    """Enqueue the jobs named in ``enqueue`` (in order) on "hot", then start a worker on it."""
    queue = Queue(backend, jobs, clock=clock)
    for name in enqueue:
        await queue.enqueue("hot", name)
    worker = make_worker(backend, jobs, clock=clock)
    log = EventLog(worker)
    await worker.start()
    return worker, log


async def failures(backend: Backend) -> list[tuple[str, str | None]]:
    records = [codec.decode_failure(r) for r in await backend.failures(0, -1)]
    return [(f.job.class_name, f.exception) for f in records]


async def test_a_job_runs_in_the_worker_task_and_its_timeout_cancels_only_the_job(
    backend: Backend,
) -> None:
    clock = FakeClock()
    tasks: list[asyncio.Task[Any] | None] = []
    started = asyncio.Event()

    async def hangs() -> None:
        tasks.append(asyncio.current_task())
        started.set()
        await asyncio.Event().wait()

    async def quick() -> str:
        tasks.append(asyncio.current_task())
        return "done"

    jobs = Jobs()
    jobs.register("hangs", hangs, timeout=30)
    jobs.register("quick", quick, timeout=30)
    worker, log = await start_on(backend, jobs, clock, ["hangs", "quick"])
    try:
        await asyncio.wait_for(started.wait(), WAIT)
        await until_sleeping(clock, 2)  # the heartbeat and the job's timeout timer
        clock.advance(30)
        await log.wait_for("success")
        assert worker.running, "the timeout cancelled the worker's loop, not only the job"
    finally:
        await worker.end()
    loop_task = tasks[0]
    assert loop_task is not None
    assert tasks == [loop_task, loop_task], "each job ran in a task of its own"
    assert loop_task.get_name() == "taskcore-worker hot:1"
    assert await failures(backend) == [("hangs", "JobTimeout")]
    assert (await backend.stats()).get("processed") == 1


async def test_stop_now_cancels_a_job_running_in_the_worker_task_and_records_it(
    backend: Backend,
) -> None:
    started = asyncio.Event()
    after: list[str] = []
    tasks: list[asyncio.Task[Any] | None] = []

    async def hangs() -> None:
        tasks.append(asyncio.current_task())
        started.set()
        await asyncio.Event().wait()

    jobs = Jobs()
    jobs.register("hangs", hangs)
    await Queue(backend, jobs).enqueue("hot", "hangs")
    worker = make_worker(backend, jobs, shutdown_timeout=None)  # only stop_now can cancel it
    worker.on("failure", lambda queue, job, error, duration: after.append(type(error).__name__))
    await worker.start()
    await asyncio.wait_for(started.wait(), WAIT)
    assert tasks[0] is not None and tasks[0].get_name() == "taskcore-worker hot:1"
    worker.stop_now()
    await asyncio.wait_for(worker.end(), WAIT)
    assert after == ["ShutdownDeadlineExceeded"]
    assert await failures(backend) == [("hangs", "ShutdownDeadlineExceeded")]
    assert await backend.list_workers() == []
    assert await backend.current_jobs() == {}


async def test_a_job_that_swallows_its_cancellation_keeps_its_outcome_and_the_worker_goes_on(
    backend: Backend,
) -> None:
    clock = FakeClock()
    started = asyncio.Event()

    async def stubborn() -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return "ignored the cancellation"  # bad manners, but it must not break the worker
        return "never"

    async def quick() -> str:
        return "done"

    jobs = Jobs()
    jobs.register("stubborn", stubborn, timeout=5)
    jobs.register("quick", quick)
    worker, log = await start_on(backend, jobs, clock, ["stubborn", "quick"])
    try:
        await asyncio.wait_for(started.wait(), WAIT)
        await until_sleeping(clock, 2)
        clock.advance(5)
        await log.wait_for("success", count=2)
        assert worker.running
    finally:
        await worker.end()
    results = [args[2] for args in log.args("success")]
    assert results == ["ignored the cancellation", "done"]
    assert await failures(backend) == []
