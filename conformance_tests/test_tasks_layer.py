"""The task layer on every driver: wire shape, validation, middleware, periodic tasks.

Moved from ``tests/test_tasks.py`` (memory only) so each runs on memory, Redis and PostgreSQL
through the conformance fixtures (``backend``, ``backend_factory``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pydantic
import pytest

from conformance_tests.engine_support import WAIT
from conformance_tests.fixtures import BackendFactory
from taskcore.app import App
from taskcore.backend import Backend
from taskcore.config import Settings
from taskcore.errors import UnknownJob, ValidationError
from taskcore.plugins import Plugin
from taskcore.queue import Queue
from taskcore.tasks import Middleware, Task, TaskAPI, TaskRegistry
from taskcore.testing import FakeClock, drain, find_enqueued_tasks
from taskcore.worker import Worker


def api_for(backend: Backend, registry: TaskRegistry, clock: FakeClock | None = None) -> TaskAPI:
    return TaskAPI(Queue(backend, registry.jobs, clock=clock), registry)


# ------------------------------------------------------------------ wire shape and validation


async def test_a_task_job_is_actionhero_shaped_with_defaults_filled(backend: Backend) -> None:
    tasks = TaskRegistry()

    @tasks.task(queue="mail")
    async def send_email(to: str, subject: str = "hi") -> None: ...

    api = api_for(backend, tasks)
    assert await api.enqueue("send_email", {"to": "a@b.c"})
    raw = await backend.queue_range("mail", 0, -1)
    assert raw == ['{"class":"send_email","queue":"mail","args":[{"to":"a@b.c","subject":"hi"}]}']


async def test_invalid_inputs_name_the_field_and_enqueue_nothing(backend: Backend) -> None:
    tasks = TaskRegistry()

    @tasks.task()
    async def resize(width: int, height: int = 10) -> None: ...

    api = api_for(backend, tasks)
    with pytest.raises(ValidationError, match="width") as info:
        await api.enqueue("resize", {"width": "wide"})
    assert "resize" in str(info.value)
    with pytest.raises(ValidationError, match="colour: Extra inputs"):
        await api.enqueue("resize", {"width": 1, "colour": "red"})
    with pytest.raises(ValidationError, match="width: Field required"):
        await api.enqueue("resize")
    assert await backend.queue_length("default") == 0


async def test_unknown_task_is_a_clear_error(backend: Backend) -> None:
    with pytest.raises(UnknownJob, match="no task named 'nope'"):
        await api_for(backend, TaskRegistry()).enqueue("nope")


async def test_explicit_model_and_class_form(backend: Backend) -> None:
    class Order(pydantic.BaseModel):
        order_id: int
        express: bool = False

    tasks = TaskRegistry()
    seen: list[Any] = []

    @tasks.task(inputs=Order)
    async def ship(order: Order) -> int:
        seen.append(order)
        return order.order_id

    class Refund(Task):
        name = "refund"
        queue = "money"
        inputs = Order

        def run(self, inputs: Any, worker: Any) -> str:  # sync: runs in a thread
            return f"refunded {inputs.order_id} by {worker.name}"

    tasks.add(Refund())
    api = api_for(backend, tasks)
    await api.enqueue("ship", {"order_id": 7})
    await api.enqueue("refund", {"order_id": 8})
    results: list[Any] = []
    worker = Worker(backend, tasks.jobs, name="w1")
    worker.on("success", lambda q, job, result, d: results.append(result))
    assert await drain(backend, tasks, worker=worker) == 2
    assert seen == [Order(order_id=7)]
    assert results == [7, "refunded 8 by w1"]
    assert tasks.get("refund").description == "refund"


async def test_inputs_from_another_producer_are_validated_on_the_worker(backend: Backend) -> None:
    tasks = TaskRegistry()

    @tasks.task()
    async def add(a: int, b: int = 1) -> int:
        return a + b

    queue = Queue(backend)
    await queue.enqueue("default", "add", [{"a": "not a number"}])
    await queue.enqueue("default", "add", [None])  # Actionhero's [undefined]
    await drain(backend, tasks)
    failures = await queue.failed()
    assert [f.exception for f in failures] == ["ValidationError", "ValidationError"]
    assert "a: Input should be a valid integer" in (failures[0].error or "")
    assert "a: Field required" in (failures[1].error or "")


# ------------------------------------------------------------------ middleware


async def test_middleware_order_global_by_priority_then_task_middleware(backend: Backend) -> None:
    calls: list[str] = []

    def recorder(name: str) -> Middleware:
        def hook(label: str) -> Any:
            def record(plugin: Plugin) -> None:
                calls.append(f"{name}.{label}")

            return record

        return Middleware(
            name,
            pre_enqueue=hook("pre_enqueue"),
            post_enqueue=hook("post_enqueue"),
            pre_processor=hook("pre_processor"),
            post_processor=hook("post_processor"),
        )

    tasks = TaskRegistry()
    late, early, own = recorder("late"), recorder("early"), recorder("own")
    late.is_global, late.priority = True, 200
    early.is_global, early.priority = True, 10
    tasks.add_middleware(late)
    tasks.add_middleware(early)

    @tasks.task(middleware=[own])
    async def job() -> None:
        calls.append("run")

    await api_for(backend, tasks).enqueue("job")
    await drain(backend, tasks)
    order = ["early", "late", "own"]
    assert calls == [
        *(f"{m}.pre_enqueue" for m in order),
        *(f"{m}.post_enqueue" for m in order),
        *(f"{m}.pre_processor" for m in order),
        "run",
        *(f"{m}.post_processor" for m in order),
    ]


async def test_pre_enqueue_false_blocks_and_pre_processor_false_skips(backend: Backend) -> None:
    ran: list[str] = []
    tasks = TaskRegistry()
    tasks.add_middleware(Middleware("gate", pre_enqueue=lambda p: p.args[0]["n"] != 1))
    tasks.add_middleware(Middleware("skip", pre_processor=lambda p: p.args[0]["n"] != 2))

    @tasks.task(middleware=["gate", "skip"])
    async def count(n: int) -> None:
        ran.append(str(n))

    api = api_for(backend, tasks)
    assert await api.enqueue("count", {"n": 1}) is False
    assert await api.enqueue("count", {"n": 2}) is True
    assert await api.enqueue("count", {"n": 3}) is True
    assert await backend.queue_length("default") == 2
    await drain(backend, tasks)
    assert ran == ["3"]
    assert (await backend.stats()).get("processed") == 1  # the skipped job counts nowhere


async def test_post_processor_can_clear_an_error(backend: Backend) -> None:
    def swallow(plugin: Plugin) -> None:
        plugin.error = None

    tasks = TaskRegistry()

    @tasks.task(middleware=[Middleware("swallow", post_processor=swallow)])
    async def boom() -> None:
        raise RuntimeError("boom")

    await api_for(backend, tasks).enqueue("boom")
    await drain(backend, tasks)
    assert await backend.failure_count() == 0
    assert (await backend.stats()).get("processed") == 1


async def test_global_middleware_added_later_applies_to_new_workers(backend: Backend) -> None:
    seen: list[str] = []
    tasks = TaskRegistry()

    @tasks.task()
    async def noop() -> None: ...

    api = api_for(backend, tasks)
    await api.enqueue("noop")
    tasks.add_middleware(
        Middleware("late", is_global=True, pre_processor=lambda p: seen.append(p.func))
    )
    await drain(backend, tasks)
    assert seen == ["noop"]


# ------------------------------------------------------------------ periodic tasks


def periodic_registry(runs: list[str], *, fail: bool = False, re_enqueue: bool = True) -> Any:
    tasks = TaskRegistry()

    @tasks.task(frequency=60, re_enqueue_periodic_task_if_exception=re_enqueue)
    async def tick() -> None:
        runs.append("x")
        if fail:
            raise RuntimeError("tick failed")

    return tasks


async def test_concurrent_boots_enqueue_one_copy(
    backend: Backend, backend_factory: BackendFactory
) -> None:
    tasks = periodic_registry([])
    apis = [api_for(await backend_factory(), tasks) for _ in range(5)]  # five nodes
    results = await asyncio.gather(*(a.enqueue_all_recurrent_tasks() for a in apis))
    assert sorted(results) == [[], [], [], [], ["tick"]]
    assert await backend.queue_range("default", 0, -1) == [
        '{"class":"tick","queue":"default","args":[{}]}'
    ]
    # and again while the copy waits: still one
    assert await apis[0].enqueue_all_recurrent_tasks() == []
    assert await backend.queue_length("default") == 1


async def test_a_run_schedules_the_next_one_frequency_seconds_later(backend: Backend) -> None:
    runs: list[str] = []
    clock = FakeClock()
    tasks = periodic_registry(runs)
    api = api_for(backend, tasks, clock)
    await api.enqueue_all_recurrent_tasks()
    assert await drain(backend, tasks, clock=clock) == 1
    found = await find_enqueued_tasks(backend, "tick")
    assert [(t.timestamp, t.inputs) for t in found] == [(int(clock.now() + 60) * 1000, {})]
    # a boot while the next run is scheduled adds nothing (DelayQueueLock)
    assert await api.enqueue_all_recurrent_tasks() == []
    clock.advance(60)
    assert await drain(backend, tasks, clock=clock) == 0  # stored at a whole second: never early
    clock.advance(0.5)
    assert await drain(backend, tasks, clock=clock) == 1
    assert runs == ["x", "x"]
    assert len(await find_enqueued_tasks(backend, "tick")) == 1


async def test_a_second_copy_reaching_a_worker_while_one_runs_is_dropped(backend: Backend) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    runs: list[int] = []
    tasks = TaskRegistry()

    @tasks.task(frequency=30)
    async def slow() -> None:
        runs.append(1)
        started.set()
        await release.wait()

    queue = Queue(backend, tasks.jobs)
    await queue.enqueue("default", "slow", [{}])
    first = asyncio.create_task(Worker(backend, tasks.jobs, name="a").work_one())
    await started.wait()
    await queue.enqueue("default", "slow", [{}])  # e.g. written by another node
    assert await Worker(backend, tasks.jobs, name="b").work_one()
    release.set()
    await first
    assert runs == [1]
    assert len(await queue.timestamps()) == 1  # JobLock re_enqueue=False: no extra run scheduled


async def test_failed_runs_reschedule_unless_disabled(
    backend_factory: BackendFactory, namespace: str
) -> None:
    for re_enqueue, expected in ((True, 1), (False, 0)):
        b = await backend_factory(f"{namespace}-{re_enqueue}")
        tasks = periodic_registry([], fail=True, re_enqueue=re_enqueue)
        await api_for(b, tasks).enqueue_all_recurrent_tasks()
        await drain(b, tasks)
        assert await b.failure_count() == 1
        assert len(await find_enqueued_tasks(b, "tick")) == expected


async def test_stop_recurrent_task_removes_queued_and_scheduled_copies(backend: Backend) -> None:
    clock = FakeClock()
    tasks = periodic_registry([])
    api = api_for(backend, tasks, clock)
    await api.enqueue_all_recurrent_tasks()
    assert await api.stop_recurrent_task("tick") == 1
    assert await find_enqueued_tasks(backend, "tick") == []
    # its queue lock went with it: the task can be started again at once
    assert await api.enqueue_all_recurrent_tasks() == ["tick"]
    await drain(backend, tasks, clock=clock)  # runs, schedules the next run
    assert len(await find_enqueued_tasks(backend, "tick")) == 1
    assert await api.stop_recurrent_task("tick") == 1
    assert await find_enqueued_tasks(backend, "tick") == []


async def test_stop_recurrent_task_also_removes_actionhero_copies(backend: Backend) -> None:
    tasks = TaskRegistry()

    @tasks.task(frequency=5)
    async def beat() -> None: ...

    queue = Queue(backend)
    await queue.enqueue("default", "beat", [{}])  # Actionhero's recurring copy
    await queue.enqueue_in(5000, "default", "beat", [{}])
    assert await api_for(backend, tasks).stop_recurrent_task("beat") == 2
    assert await backend.queue_length("default") == 0
    assert await queue.timestamps() == []


async def test_api_delegates_lookups_by_inputs(backend: Backend) -> None:
    clock = FakeClock()
    tasks = TaskRegistry()

    @tasks.task()
    async def ping(host: str, port: int = 80) -> None: ...

    api = api_for(backend, tasks, clock)
    await api.enqueue_in(10_000, "ping", {"host": "a"})
    with pytest.raises(Exception, match="already scheduled"):
        await api.enqueue_in(10_000, "ping", {"host": "a"})
    assert await api.enqueue_in(10_000, "ping", {"host": "a"}, suppress_duplicate=True) is False
    due = int(clock.now()) + 10
    assert await api.scheduled_at("default", "ping", {"host": "a", "port": 80}) == [due]
    assert await api.del_delayed("default", "ping", {"host": "a"}) == [due]
    await api.enqueue("ping", {"host": "b"})
    await api.enqueue("ping", {"host": "c"})
    assert await api.delete("default", "ping", {"host": "b"}) == 1
    assert [j.args for j in await api.queued("default")] == [[{"host": "c", "port": 80}]]
    details = await api.details()
    assert details["queues"]["default"]["length"] == 1


async def test_a_periodic_run_skipped_by_middleware_still_schedules_the_next(
    backend: Backend,
) -> None:
    # A pre_processor returning False used to end the periodic task for good (no next run) and
    # leave its JobLock held for an hour, so even a fresh boot's copy was dropped.
    runs: list[str] = []
    paused = [True]
    clock = FakeClock()
    tasks = periodic_registry(runs)
    tasks.add_middleware(
        Middleware("maintenance", is_global=True, pre_processor=lambda p: not paused[0])
    )
    api = api_for(backend, tasks, clock)
    await api.enqueue_all_recurrent_tasks()
    assert await drain(backend, tasks, clock=clock) == 1
    assert runs == []
    assert [t.timestamp for t in await find_enqueued_tasks(backend, "tick")] == [
        int(clock.now() + 60) * 1000
    ]
    assert await backend.list_locks("workerslock:") == {}
    paused[0] = False
    clock.advance(60.5)
    assert await drain(backend, tasks, clock=clock) == 1
    assert runs == ["x"]


async def test_a_periodic_task_whose_worker_died_runs_again(backend: Backend) -> None:
    # The dead worker's copy went to the failed list and its JobLock stayed held: no next run
    # was ever scheduled (and a retried copy was dropped by the lock) until a restart.
    from taskcore.backend import WorkerId
    from taskcore.scheduler import Scheduler
    from taskcore.tasks.periodic import watch_stuck_workers

    runs: list[str] = []
    clock = FakeClock()
    tasks = periodic_registry(runs)
    queue = Queue(backend, tasks.jobs, clock=clock)
    await TaskAPI(queue, tasks).enqueue_all_recurrent_tasks()
    dead = WorkerId("dead-host:1", ("default",))
    await backend.register_worker(dead, clock.now())
    reservation = await backend.reserve(["default"], dead, clock.now())
    assert reservation is not None
    lock = f"workerslock:tick:default:{reservation.payload.split('args')[1][2:-1]}"
    assert await backend.acquire_lock(lock, "1", 3600)  # as the dead worker's JobLock did
    scheduler = Scheduler(backend, stuck_worker_timeout=60, clock=clock, queue=queue)
    watch_stuck_workers(scheduler, queue, tasks)
    clock.advance(61)
    await scheduler.poll()
    await scheduler.drain()
    assert await backend.failure_count() == 1
    assert await backend.list_locks("workerslock:") == {}
    assert [t.timestamp for t in await find_enqueued_tasks(backend, "tick")] == [
        int(clock.now() + 60) * 1000
    ]
    clock.advance(60.5)
    assert await drain(backend, tasks, clock=clock) == 1
    assert runs == ["x"]


# ------------------------------------------------------------------ Apps


async def test_two_apps_boot_one_periodic_copy_and_run_enqueued_tasks(
    backend_factory: BackendFactory,
) -> None:
    # Two nodes (own backends, one namespace) each boot the periodic task at start: one copy
    # exists in the cluster. Their worker pools run an enqueued task end to end.
    clock = FakeClock()
    done = asyncio.Event()
    results: list[int] = []

    def node(name: str) -> TaskRegistry:
        tasks: TaskRegistry = periodic_registry([])

        @tasks.task(queue="math")
        async def add(a: int, b: int = 1) -> int:
            results.append(a + b)
            done.set()
            return a + b

        return tasks

    # the pools work "math" only, so the periodic copy stays where the boot put it
    settings = Settings(max_workers=1, min_workers=1, timeout=0.5, queues=["math"])
    apps = [
        App(settings, node(n), backend=await backend_factory(), clock=clock, name=n)
        for n in ("a", "b")
    ]
    try:
        for app in apps:
            await app.start()
        copies = await find_enqueued_tasks(apps[1].backend, "tick")
        assert [(c.queue, c.timestamp) for c in copies] == [("default", None)]
        assert await apps[1].task.enqueue("add", {"a": 41})
        await asyncio.wait_for(done.wait(), WAIT)
        assert results == [42]
    finally:
        for app in apps:
            await app.stop()
