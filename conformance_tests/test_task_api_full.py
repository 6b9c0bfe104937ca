"""The whole task API on ``app.task`` (Actionhero's ``api.tasks``), on every driver.

An application calls one object for queues, delayed jobs, locks and workers: these tests drive
each storage-touching call through :class:`~taskcore.tasks.TaskAPI` and check what storage holds
afterwards. Time is a FakeClock; nothing sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from taskcore.backend import Backend, WorkerId
from taskcore.clock import FakeClock
from taskcore.codec import Job, encode_job
from taskcore.errors import InvalidArgument
from taskcore.queue import Queue
from taskcore.tasks import TaskAPI, TaskRegistry

START = 1_800_000_000.0


def registry() -> TaskRegistry:
    tasks = TaskRegistry()

    @tasks.task(queue="mail")
    async def send_email(to: str, subject: str = "hi") -> None: ...

    @tasks.task(queue="mail", plugins=["QueueLock"])
    async def digest() -> None: ...

    return tasks


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def api(backend: Backend, clock: FakeClock) -> TaskAPI:
    tasks = registry()
    return TaskAPI(Queue(backend, tasks.jobs, clock=clock), tasks)


async def test_enqueue_front_puts_the_task_at_the_head_of_its_queue(
    api: TaskAPI, backend: Backend
) -> None:
    assert await api.enqueue("send_email", {"to": "a@b.c"})
    assert await api.enqueue_front("send_email", {"to": "urgent@b.c"})
    assert await backend.queue_range("mail", 0, -1) == [
        '{"class":"send_email","queue":"mail","args":[{"to":"urgent@b.c","subject":"hi"}]}',
        '{"class":"send_email","queue":"mail","args":[{"to":"a@b.c","subject":"hi"}]}',
    ]
    assert await api.length("mail") == 2
    assert await api.queues() == ["mail"]


async def test_del_queue_removes_the_queue_and_its_jobs(api: TaskAPI, backend: Backend) -> None:
    await api.enqueue("send_email", {"to": "a@b.c"})
    await api.enqueue("send_email", {"to": "b@b.c"}, queue="other")
    await api.del_queue("mail")
    assert await api.queues() == ["other"]
    assert await backend.queue_length("mail") == 0
    assert await api.length("other") == 1


async def test_delayed_at_lists_the_jobs_of_one_timestamp(api: TaskAPI) -> None:
    at = int(START + 60) * 1000
    await api.enqueue_at(at, "send_email", {"to": "a@b.c"})
    await api.enqueue_at(at, "send_email", {"to": "b@b.c"})
    await api.enqueue_at(at + 5000, "send_email", {"to": "c@b.c"})
    jobs, second = await api.delayed_at(at + 400)  # ms round to their second, as node-resque
    assert second == at // 1000
    assert [job.args[0]["to"] for job in jobs] == ["a@b.c", "b@b.c"]
    as_datetime = datetime.fromtimestamp(at / 1000, UTC)
    assert await api.delayed_at(as_datetime) == (jobs, second)
    assert await api.delayed_at(at + 1_000_000) == ([], (at + 1_000_000) // 1000)


async def test_locks_are_listed_and_deleted(api: TaskAPI) -> None:
    assert await api.enqueue("digest")
    assert not await api.enqueue("digest")  # QueueLock: one copy queued at a time
    locks = await api.locks()
    assert list(locks) == ["lock:digest:mail:[{}]"]
    assert await api.del_lock("lock:digest:mail:[{}]") == 1
    assert await api.locks() == {}
    assert await api.del_lock("lock:digest:mail:[{}]") == 0
    assert await api.enqueue("digest")  # the lock is gone, so a second copy goes in


async def test_workers_and_what_they_work_on(api: TaskAPI, backend: Backend) -> None:
    idle = WorkerId("host:1", ("mail", "other"))
    busy = WorkerId("host:2", ("mail",))
    await backend.register_worker(idle, START)
    await backend.register_worker(busy, START)
    await api.enqueue("send_email", {"to": "a@b.c"})
    assert await backend.reserve(["mail"], busy, START) is not None
    assert await api.workers() == {"host:1": "mail,other", "host:2": "mail"}
    assert await api.working_on("host:1", ["mail", "other"]) is None
    raw = await api.working_on("host:2", "mail")
    assert raw is not None and '"to":"a@b.c"' in raw
    everything = await api.all_working_on()
    assert everything["host:1"] == "started"
    current = everything["host:2"]
    assert isinstance(current, dict)
    assert current["payload"]["class"] == "send_email"


@pytest.mark.parametrize("age", [60, 60.0, timedelta(minutes=1)])
async def test_clean_old_workers_takes_seconds_or_a_timedelta(
    api: TaskAPI, backend: Backend, age: float | timedelta
) -> None:
    old = WorkerId("old:1", ("mail",))
    new = WorkerId("new:1", ("mail",))
    for worker, started in ((old, START - 100), (new, START - 10)):
        await backend.register_worker(worker, started)
        await backend.push("mail", encode_job("send_email", "mail", [{"to": worker.name}]))
        assert await backend.reserve(["mail"], worker, started) is not None
        await backend.ping_worker(worker, START)
    cleaned = await api.clean_old_workers(age)
    assert list(cleaned) == ["old:1"]
    assert [f.job for f in cleaned["old:1"]] == [Job("send_email", "mail", [{"to": "old:1"}])]
    assert await api.workers() == {"new:1": "mail"}
    assert await api.failed_count() == 1


async def test_clean_old_workers_refuses_a_boolean_or_negative_age(api: TaskAPI) -> None:
    for bad in (True, -1, float("nan")):
        with pytest.raises(InvalidArgument, match="age"):
            await api.clean_old_workers(bad)  # type: ignore[arg-type]


async def test_force_clean_worker_and_leader_are_on_the_task_api(
    api: TaskAPI, backend: Backend
) -> None:
    worker = WorkerId("host:9", ("mail",))
    await backend.register_worker(worker, START)
    await api.enqueue("send_email", {"to": "a@b.c"})
    assert await backend.reserve(["mail"], worker, START) is not None
    failures = await api.force_clean_worker("host:9")
    assert [f.job.class_name for f in failures] == ["send_email"]
    assert await api.workers() == {}
    assert await api.leader() is None
