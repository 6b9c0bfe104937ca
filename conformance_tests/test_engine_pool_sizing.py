"""The MultiWorker sizes itself to throughput on every driver: a queue of short jobs, which a
child is seldom inside at any instant, still makes the pool grow (doubling per check) up to its
maximum, and the pool shrinks once the queue is empty."""

from __future__ import annotations

from conformance_tests.engine_support import EventLog
from taskcore.backend import Backend
from taskcore.jobs import Jobs
from taskcore.multiworker import MultiWorker
from taskcore.queue import Queue

JOBS = 400


async def test_a_queue_of_short_jobs_grows_the_pool_to_its_maximum_then_it_shrinks(
    backend: Backend,
) -> None:
    async def noop() -> None:
        return None  # never suspends: no check can ever see a child inside this job

    queue = Queue(backend)
    for _ in range(JOBS):
        await queue.enqueue("short", "noop", [])
    pool = MultiWorker(
        backend,
        Jobs({"noop": noop}),
        name="pool:2",
        queues=["short"],
        timeout=30.0,
        check_interval=3600.0,  # this test takes every check itself
        max_event_loop_delay=3600.0,  # about throughput, not about a blocked loop
        min_workers=1,
        max_workers=4,
    )
    log = EventLog(pool)
    await pool.start()
    try:
        await log.wait_for("multi_worker_action", lambda verb, _: verb == "+")
        sizes = [len(pool.workers)]
        for _ in range(20):
            if len(pool.workers) == 4:
                break
            for worker in pool.workers:  # every child has found and run a job
                await log.wait_for("success", lambda name, *_, w=worker.name: name == w)
            assert await pool.check_workers() in ("+", "x")
            sizes.append(len(pool.workers))
        assert sizes[-1] == 4, f"the pool stopped growing at {sizes} under {JOBS} short jobs"
        assert sizes == sorted(sizes), f"the pool shrank under load: {sizes}"
        await log.wait_for("success", count=JOBS)
        for worker in pool.workers:  # each child's next reserve finds the queue empty
            await log.wait_for("pause", lambda name, *_, w=worker.name: name == w)
        assert await pool.check_workers() == "-"
        assert len(pool.workers) == 3
    finally:
        await pool.end()
    assert (await backend.stats())["processed"] == JOBS
    assert await backend.list_workers() == []
