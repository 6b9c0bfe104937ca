"""taskcore.testing: the helpers users write their own task tests with."""

from __future__ import annotations

import asyncio

import pytest

from taskcore.app import App
from taskcore.config import Settings
from taskcore.errors import UnknownJob, ValidationError
from taskcore.queue import Queue
from taskcore.tasks import Middleware, TaskAPI, TaskRegistry
from taskcore.testing import (
    FakeClock,
    delete_enqueued_tasks,
    drain,
    find_enqueued_tasks,
    memory_backend,
    run_full_task,
    run_task,
)


def registry(log: list[str]) -> TaskRegistry:
    tasks = TaskRegistry()
    tasks.add_middleware(
        Middleware("log", is_global=True, pre_processor=lambda p: log.append("middleware"))
    )

    @tasks.task()
    async def add(a: int, b: int = 1) -> int:
        log.append("run")
        return a + b

    return tasks


async def test_run_task_validates_but_skips_middleware() -> None:
    log: list[str] = []
    tasks = registry(log)
    assert await run_task(tasks, "add", {"a": 2}) == 3
    assert log == ["run"]
    with pytest.raises(ValidationError, match="a: Field required"):
        await run_task(tasks, "add", {})
    with pytest.raises(UnknownJob):
        await run_task(tasks, "nope")


async def test_run_full_task_runs_middleware_and_plugins() -> None:
    log: list[str] = []
    tasks = registry(log)
    async with memory_backend() as backend:
        assert await run_full_task(tasks, backend, "add", {"a": 5}) == 6
        assert await backend.queue_length("default") == 0  # nothing was queued
    assert log == ["middleware", "run"]


async def test_find_and_delete_enqueued_tasks() -> None:
    clock = FakeClock()
    tasks = registry([])
    async with memory_backend() as backend:
        api = TaskAPI(Queue(backend, tasks.jobs, clock=clock), tasks)
        await api.enqueue("add", {"a": 1})
        await api.enqueue("add", {"a": 2}, queue="other")
        await api.enqueue_in(30_000, "add", {"a": 1})
        found = await find_enqueued_tasks(backend, "add")
        assert [(t.queue, t.inputs, t.timestamp) for t in found] == [
            ("default", {"a": 1, "b": 1}, None),
            ("other", {"a": 2, "b": 1}, None),
            ("default", {"a": 1, "b": 1}, (int(clock.now()) + 30) * 1000),
        ]
        assert await delete_enqueued_tasks(backend, tasks, "add", {"a": 1}) == 2
        assert [t.inputs for t in await find_enqueued_tasks(backend, "add")] == [{"a": 2, "b": 1}]


async def test_drain_promotes_what_the_clock_made_due() -> None:
    clock = FakeClock()
    log: list[str] = []
    tasks = registry(log)
    async with memory_backend() as backend:
        api = TaskAPI(Queue(backend, tasks.jobs, clock=clock), tasks)
        await api.enqueue("add", {"a": 1})
        await api.enqueue_in(60_000, "add", {"a": 2})
        assert await drain(backend, tasks, clock=clock) == 1
        clock.advance(60)
        assert await drain(backend, tasks, clock=clock) == 0  # due at 60.5 s: never early
        clock.advance(0.5)
        assert await drain(backend, tasks, clock=clock) == 1
        assert await drain(backend, tasks, clock=clock) == 0
    assert log.count("run") == 2


async def test_app_with_fake_clock_runs_jobs_end_to_end() -> None:
    clock = FakeClock()
    tasks = registry([])
    settings = Settings(url="memory://testing-helpers", namespace="e2e", max_workers=1)
    async with memory_backend(namespace="e2e", server="testing-helpers") as backend:
        app = App(settings, tasks, backend=backend, clock=clock, name="t")
        results: list[int] = []
        done = asyncio.Event()

        def on_success(worker: str, queue: str, job: object, result: int, d: float) -> None:
            results.append(result)
            done.set()

        app.on("worker.success", on_success)
        async with app:
            await app.task.enqueue("add", {"a": 41})
            await asyncio.wait_for(done.wait(), 10)  # the push wakes the idle worker
        assert results == [42]
        assert await backend.ping() is None  # the App left the given backend open
