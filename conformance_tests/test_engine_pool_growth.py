"""The MultiWorker grows as soon as work arrives, on every driver: it does not wait for its
next ``check_interval`` (half a second by default, longer than a drain of thousands of short
jobs), and a blocked event loop still stops that growth."""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any

from conformance_tests.engine_support import EventLog, run_until
from taskcore.backend import Backend
from taskcore.config import Settings
from taskcore.jobs import Jobs
from taskcore.multiworker import MultiWorker
from taskcore.queue import Queue
from taskcore.worker import Worker

MAX = 4


def burst_pool(backend: Backend, jobs: Jobs, **options: Any) -> MultiWorker:
    """A pool of 1 to :data:`MAX` workers on "burst" with no periodic check during a test
    (``check_interval`` of an hour): only work arriving can grow it."""
    options.setdefault("queues", ["burst"])
    options.setdefault("timeout", 30.0)
    options.setdefault("check_interval", 3600.0)
    options.setdefault("min_workers", 1)
    options.setdefault("max_workers", MAX)
    return MultiWorker(backend, jobs, **options)


async def test_work_arriving_at_an_idle_pool_grows_it_without_waiting_for_a_check(
    backend: Backend,
) -> None:
    full = asyncio.Event()

    async def hold() -> None:
        await full.wait()

    pool = burst_pool(
        backend,
        Jobs({"hold": hold}),
        name="pool:3",
        max_event_loop_delay=3600.0,  # about reacting to work, not about a blocked loop
    )
    log = EventLog(pool)
    await pool.start()
    try:
        await log.wait_for("pause")  # the first child is idle: the pool checked and waits
        await Queue(backend).enqueue_many([("burst", "hold", []) for _ in range(3 * MAX)])
        await log.wait_for("multi_worker_action", lambda *_: len(pool.workers) == MAX)
        full.set()
        await log.wait_for("success", count=3 * MAX)
    finally:
        full.set()
        await pool.end()
    grown = [verb for verb, _ in log.args("multi_worker_action")]
    assert grown.count("+") == MAX and "-" not in grown, grown
    assert (await backend.stats())["processed"] == 3 * MAX


async def test_work_arriving_while_the_loop_is_blocked_does_not_grow_the_pool(
    backend: Backend,
) -> None:
    async def blocking() -> None:
        time.sleep(0.05)  # noqa: ASYNC251 -- the point: a job that blocks the loop

    pool = burst_pool(backend, Jobs({"blocking": blocking}), name="pool:4")
    log = EventLog(pool)
    await pool.start()
    try:
        await log.wait_for("pause")
        await Queue(backend).enqueue_many([("burst", "blocking", []) for _ in range(4)])
        await log.wait_for("success", count=4)
    finally:
        await pool.end()
    assert len([v for v, _ in log.args("multi_worker_action") if v == "+"]) == 1
    lagged = [delay for verb, delay in log.args("multi_worker_action") if verb == "x"]
    assert lagged and max(lagged) > pool.max_event_loop_delay, lagged


def test_taskcore_run_and_the_multiworker_default_to_the_same_pool_sizes() -> None:
    """1 to 20 workers by default, for ``taskcore run`` (Settings) and a bare MultiWorker:
    room for jobs that wait on I/O, while short jobs stop growth through the loop's lag."""
    defaults = inspect.signature(MultiWorker).parameters
    settings = Settings()
    assert (settings.min_workers, settings.max_workers) == (1, 20)
    assert (defaults["min_workers"].default, defaults["max_workers"].default) == (1, 20)


async def test_a_failing_work_found_hook_is_an_error_event_and_the_job_still_counts_once(
    backend: Backend,
) -> None:
    def broken() -> None:
        raise RuntimeError("hook failed")

    async def noop() -> None:
        return None

    await Queue(backend).enqueue_many([("burst", "noop", []) for _ in range(3)])
    worker = Worker(backend, {"noop": noop}, queues=["burst"], name="hooked", timeout=30.0)
    worker.on_work_found = broken
    log = await run_until(worker, 3, idle=True)
    errors = [str(error) for error, *_ in log.args("error")]
    assert errors == ["hook failed"], errors  # once: when work first arrived
    assert (await backend.stats())["processed"] == 3
    assert await backend.failure_count() == 0
