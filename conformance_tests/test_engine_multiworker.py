"""The MultiWorker on every driver: grows under load up to its maximum, not while the event
loop is blocked, shrinks when idle, and re-emits its children's events."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from conformance_tests.engine_support import EventLog
from taskcore.backend import Backend
from taskcore.jobs import Jobs
from taskcore.multiworker import MultiWorker
from taskcore.queue import Queue


def make_pool(backend: Backend, jobs: Jobs, **options: Any) -> MultiWorker:
    options.setdefault("name", "pool:1")
    options.setdefault("queues", ["slow"])
    options.setdefault("timeout", 0.05)
    options.setdefault("check_interval", 0.02)
    options.setdefault("min_workers", 1)
    options.setdefault("max_workers", 4)
    return MultiWorker(backend, jobs, **options)


def sizes(log: EventLog, pool: MultiWorker) -> list[int]:
    """The pool size after each check, rebuilt from its actions."""
    size, out = 0, []
    for verb, _ in log.args("multi_worker_action"):
        size += {"+": 1, "-": -1}.get(verb, 0)
        out.append(size)
    return out


async def test_grows_under_load_up_to_max_then_shrinks_when_idle(backend: Backend) -> None:
    release = asyncio.Event()

    async def wait_for_release() -> None:
        await release.wait()

    queue = Queue(backend)
    for _ in range(12):
        await queue.enqueue("slow", "wait", [])
    # generous lag threshold: this test is about load, not about a blocked loop
    pool = make_pool(backend, Jobs({"wait": wait_for_release}), max_event_loop_delay=0.5)
    log = EventLog(pool)
    await pool.start()
    try:
        await log.wait_for("multi_worker_action", lambda *_: len(pool.workers) == 4)
        # busy at max: it stays at max
        checks = len(log.args("multi_worker_action"))
        await log.wait_for("multi_worker_action", count=checks + 5)
        assert len(pool.workers) == 4
        assert max(sizes(log, pool)) == 4
        names = sorted(w.name for w in pool.workers)
        assert names == [f"pool:1+{k}" for k in range(1, 5)]
        assert {w.name for w in await backend.list_workers()} == set(names)

        release.set()
        await log.wait_for("multi_worker_action", lambda *_: len(pool.workers) == 1)
        await log.wait_for("success", count=12)
    finally:
        await pool.end()
    assert min(sizes(log, pool)[1:]) >= 1
    assert (await backend.stats())["processed"] == 12
    assert await backend.list_workers() == []


async def test_does_not_grow_while_the_event_loop_is_blocked(backend: Backend) -> None:
    async def blocking() -> None:
        time.sleep(0.1)  # noqa: ASYNC251 -- the point: a job that blocks the loop

    queue = Queue(backend)
    for _ in range(6):
        await queue.enqueue("slow", "blocking", [])
    pool = make_pool(backend, Jobs({"blocking": blocking}), max_workers=5)
    log = EventLog(pool)
    await pool.start()
    try:
        await log.wait_for("success", count=6)
    finally:
        await pool.end()
    assert max(sizes(log, pool)) == 1
    lagged = [delay for verb, delay in log.args("multi_worker_action") if verb == "x"]
    assert any(delay > pool.max_event_loop_delay for delay in lagged)


async def test_child_events_are_re_emitted_with_the_child_name_first(backend: Backend) -> None:
    await Queue(backend).enqueue("slow", "somethingFake", [])
    pool = make_pool(backend, Jobs(), max_workers=1)
    log = EventLog(pool)
    await pool.start()
    try:
        name, queue, job, error, _duration = await log.wait_for("failure")
    finally:
        await pool.end()
    assert (name, queue, job.class_name) == ("pool:1+1", "slow", "somethingFake")
    assert str(error) == 'No job defined for class "somethingFake"'
    assert ("start", "pool:1+1") in [(n, a[0]) for n, a in log.events if a]
    assert log.args("end")[-1][0] == "pool:1+1"
