"""``scope="all"`` on every driver: every running App runs the task once per trigger.

Apps on separate backends share one namespace and a FakeClock; their workers are real (a push
wakes them), so the tests wait on events, never on the wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from conformance_tests.engine_support import WAIT
from conformance_tests.fixtures import BackendFactory
from taskcore.app import App
from taskcore.backend import Backend
from taskcore.clock import FakeClock
from taskcore.codec import encode_job
from taskcore.config import Settings
from taskcore.queue import Queue
from taskcore.tasks import TaskAPI, TaskRegistry
from taskcore.tasks.scope import Node, live_nodes, node_queue
from taskcore.worker import Worker

START = 1_800_000_000.0

Started = tuple["Runs", list[App], Callable[[str], Awaitable[App]]]
"""The ``apps`` fixture: the runs, the Apps started, and ``start(name)``."""


class Runs:
    """Which App ran the scope-"all" task ``refresh``, and a way to wait for a count."""

    def __init__(self) -> None:
        self.by: list[str] = []
        self._changed = asyncio.Event()

    def registry(self, app_name: str) -> TaskRegistry:
        tasks = TaskRegistry()

        @tasks.task(scope="all")
        async def refresh(reason: str = "deploy") -> None:
            self.by.append(f"{app_name}:{reason}")
            self._changed.set()

        return tasks

    async def until(self, count: int) -> None:
        async def watch() -> None:
            while len(self.by) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(watch(), WAIT)


@pytest.fixture
async def apps(backend_factory: BackendFactory) -> AsyncIterator[Started]:
    runs = Runs()
    started: list[App] = []
    clock = FakeClock(START)

    async def start(name: str) -> App:
        settings = Settings(max_workers=1, min_workers=1, timeout=0.5, scheduler=False)
        backend = await backend_factory()
        app = App(settings, runs.registry(name), backend=backend, clock=clock, name=name)
        await app.start()
        started.append(app)
        return app

    try:
        yield runs, started, start
    finally:
        for app in started:
            await app.stop()


async def test_every_live_app_runs_it_once_and_a_late_app_gets_no_old_runs(
    apps: Started,
) -> None:
    runs, started, start = apps
    a = await start("a")
    b = await start("b")
    assert len(await live_nodes(a.backend)) == 2
    assert await a.task.enqueue("refresh", {"reason": "one"})
    await runs.until(2)
    assert sorted(runs.by) == ["a:one", "b:one"]
    c = await start("c")
    assert c.node is not None
    assert await c.backend.queue_length(c.node.queue) == 0  # nothing old for a newcomer
    await b.task.enqueue("refresh", {"reason": "two"})
    await runs.until(5)
    assert sorted(runs.by) == ["a:one", "a:two", "b:one", "b:two", "c:two"]
    # the trigger ran once (as the fan-out), and each node's copy once: nothing is left
    for app in started:
        assert app.node is not None
        assert await app.backend.queue_length(app.node.queue) == 0
    assert await a.backend.queue_length("default") == 0


async def test_a_stopped_app_leaves_no_queue_nor_announcement(
    apps: Started,
) -> None:
    runs, _, start = apps
    a = await start("a")
    b = await start("b")
    assert b.node is not None
    gone = b.node.queue
    await b.stop()
    assert len(await live_nodes(a.backend)) == 1
    assert gone not in await a.backend.list_queues()
    await a.task.enqueue("refresh")
    await runs.until(1)
    assert runs.by == ["a:deploy"]


async def test_a_dead_nodes_copies_are_deleted_at_the_next_fan_out(backend: Backend) -> None:
    clock = FakeClock(START)
    tasks = Runs().registry("x")
    api = TaskAPI(Queue(backend, tasks.jobs, clock=clock), tasks)
    dead = Node(backend, "dead-host:1", clock)
    await dead.join()
    await api.enqueue("refresh")
    worker = Worker(backend, tasks.jobs, queues=["default"], name="fan", clock=clock)
    assert await worker.work_one()  # the trigger fans out: one copy for the live node
    assert await backend.queue_length(dead.queue) == 1
    # it dies without leaving: its announcement expires (released here, as the TTL would)
    # (its renewal timer sleeps on the FakeClock, which does not move: it never renews)
    await backend.release_lock(f"taskcore-nodes:{dead.id}")
    await api.enqueue("refresh")
    assert await worker.work_one()
    assert dead.queue not in await backend.list_queues()
    assert await backend.queue_length(dead.queue) == 0
    await dead.leave()  # ends its timer


async def test_wildcard_workers_never_take_another_apps_copies(backend: Backend) -> None:
    private = node_queue("other-host.1a2b3c4d")
    await backend.push(private, encode_job("refresh", private, [{}]))
    await backend.push("default", encode_job("noop", "default", []))
    seen: list[str] = []

    async def noop() -> None:
        seen.append("noop")

    worker = Worker(backend, {"noop": noop}, queues="*", name="w", clock=FakeClock(START))
    assert await worker.work_one()
    assert not await worker.work_one()
    assert seen == ["noop"]
    assert await backend.queue_length(private) == 1
