"""The task layer on every driver: removing the delayed jobs of one timestamp, through the
Queue and the task API (Stellar's "remove all tasks at a timestamp")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from taskcore.backend import Backend
from taskcore.clock import FakeClock
from taskcore.errors import InvalidArgument
from taskcore.malformed import MalformedJob
from taskcore.queue import Queue
from taskcore.tasks import TaskAPI, TaskRegistry

START = 1_800_000_000.0


def registry() -> TaskRegistry:
    tasks = TaskRegistry()

    @tasks.task(queue="mail")
    async def send(to: str) -> None: ...

    @tasks.task()
    async def report() -> None: ...

    return tasks


async def test_del_delayed_at_removes_every_task_at_that_second(backend: Backend) -> None:
    tasks = registry()
    api = TaskAPI(Queue(backend, tasks.jobs, clock=FakeClock(START)), tasks)
    at_ms = int(START * 1000) + 60_000
    await api.enqueue_at(at_ms, "send", {"to": "a@b.c"})
    await api.enqueue_at(at_ms + 400, "report")  # rounds to the same second
    await api.enqueue_at(at_ms + 1000, "send", {"to": "a@b.c"})  # the next second: kept
    removed = await api.del_delayed_at(at_ms)
    assert [(j.class_name, j.queue, j.args) for j in removed] == [
        ("send", "mail", [{"to": "a@b.c"}]),
        ("report", "default", [{}]),
    ]
    assert await api.timestamps() == [at_ms + 1000]
    assert await api.scheduled_at("mail", "send", {"to": "a@b.c"}) == [START + 61]
    assert await api.del_delayed_at(at_ms) == []
    # a datetime names the same second; the remaining job goes
    moment = datetime.fromtimestamp(START + 61, UTC)
    assert [j.class_name for j in await api.del_delayed_at(moment)] == ["send"]
    assert await api.timestamps() == []


async def test_queue_del_delayed_at_shows_a_hostile_payload_and_removes_it(
    backend: Backend,
) -> None:
    queue = Queue(backend)
    second = int(START) + 5
    await backend.schedule(second, "math", "not json")
    await queue.enqueue_at(second * 1000, "math", "add", [1, 2])
    removed = await queue.del_delayed_at(second * 1000)
    assert isinstance(removed[0], MalformedJob)
    assert removed[1].args == [1, 2]
    assert await queue.timestamps() == []


async def test_del_delayed_at_refuses_a_bad_timestamp_and_removes_nothing(
    backend: Backend,
) -> None:
    queue = Queue(backend)
    await queue.enqueue_at(START * 1000, "math", "add", [1])
    for bad in (float("nan"), True, "soon", -1e20):
        with pytest.raises(InvalidArgument, match="timestamp_ms"):
            await queue.del_delayed_at(bad)  # type: ignore[arg-type]
    assert await queue.timestamps() == [int(START) * 1000]
