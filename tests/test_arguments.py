"""The Queue and task APIs refuse bad arguments before writing anything (memory driver).

Each refusal is :class:`~taskcore.errors.InvalidArgument`, one line naming the argument. Before
these checks, ``1e30`` ms was scheduled, NaN raised a bare ValueError from ``math.floor``,
``failed(start="a")`` surfaced as a storage error, and the task API silently sent
``queue=""`` to the task's queue.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from taskcore.arguments import MAX_MS
from taskcore.backend import Backend
from taskcore.errors import InvalidArgument, UnknownJob
from taskcore.queue import Queue
from taskcore.tasks import TaskAPI, TaskRegistry
from taskcore.testing import FakeClock, memory_backend

NOW = 1_800_000_000.0

Call = Callable[[Queue], Awaitable[Any]]
TaskCall = Callable[[TaskAPI], Awaitable[Any]]


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    async with memory_backend() as b:
        yield b


@pytest.fixture
def queue(backend: Backend) -> Queue:
    return Queue(backend, clock=FakeClock(NOW))


@pytest.fixture
def api(queue: Queue) -> TaskAPI:
    tasks = TaskRegistry()

    @tasks.task(queue="mail")
    async def send_email(to: str) -> None: ...

    return TaskAPI(queue, tasks)


async def nothing_written(backend: Backend) -> None:
    assert await backend.list_queues() == []
    assert await backend.delayed_timestamps() == []


async def refused(call: Awaitable[Any], argument: str) -> str:
    """Await ``call``; it must raise InvalidArgument, one line, naming ``argument``."""
    with pytest.raises(InvalidArgument) as info:
        await call
    message = str(info.value)
    assert message.startswith(argument), message
    assert "\n" not in message
    return message


# ------------------------------------------------------------------ timestamps and delays


@pytest.mark.parametrize(
    "timestamp",
    [
        1e30,  # accepted and stored before
        math.nan,  # a bare ValueError from math.floor before
        math.inf,
        -math.inf,
        True,
        -1,  # before 1970
        MAX_MS + 1000,  # after year 9999
        10**400,  # an int no double holds
        "1800000000000",
        datetime(1969, 12, 31, 23, 59, tzinfo=UTC),
        datetime(2030, 1, 1),  # naive
    ],
)
async def test_enqueue_at_refuses_a_timestamp_outside_1970_to_9999(
    queue: Queue, backend: Backend, timestamp: Any
) -> None:
    message = await refused(queue.enqueue_at(timestamp, "q", "Job"), "timestamp")
    assert "datetime" in message  # says what to pass
    await nothing_written(backend)


async def test_enqueue_at_accepts_the_edges_of_the_range(queue: Queue, backend: Backend) -> None:
    assert await queue.enqueue_at(0, "q", "Job")
    assert await queue.enqueue_at(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "q", "Job")
    assert await backend.delayed_timestamps() == [0, 253_402_300_799]


@pytest.mark.parametrize(
    "delay",
    [-1, -0.5, math.nan, math.inf, True, "1000", 1e30, timedelta(seconds=-1)],
)
async def test_enqueue_in_refuses_a_negative_or_non_finite_delay(
    queue: Queue, backend: Backend, delay: Any
) -> None:
    await refused(queue.enqueue_in(delay, "q", "Job"), "delay")
    await nothing_written(backend)


async def test_enqueue_in_refuses_a_delay_that_lands_past_year_9999(
    queue: Queue, backend: Backend
) -> None:
    # the delay alone is in range; now + delay is not
    await refused(queue.enqueue_in(MAX_MS - 1000, "q", "Job"), "delay")
    await nothing_written(backend)


async def test_delayed_at_refuses_a_bad_timestamp(queue: Queue) -> None:
    await refused(queue.delayed_at(math.nan), "timestamp_ms")


# ------------------------------------------------------------------ ranges


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda q: q.failed(start="a"), "start"),  # a storage error before
        (lambda q: q.failed(0, True), "stop"),
        (lambda q: q.failed(0.0, 5), "start"),
        (lambda q: q.queued("q", "0"), "start"),
        (lambda q: q.queued("q", 0, 2.5), "stop"),
        (lambda q: q.del_by_function("q", "Job", None), "start"),
        (lambda q: q.delete("q", "Job", None, "1"), "count"),
        (lambda q: q.retry_stuck_jobs(-1), "upper"),
        (lambda q: q.retry_stuck_jobs(True), "upper"),
    ],
    ids=[
        "failed-start-str",
        "failed-stop-bool",
        "failed-start-float",
        "queued-start-str",
        "queued-stop-float",
        "del_by_function-start-none",
        "delete-count-str",
        "retry_stuck_jobs-negative",
        "retry_stuck_jobs-bool",
    ],
)
async def test_ranges_take_ints_only(queue: Queue, call: Call, argument: str) -> None:
    message = await refused(call(queue), argument)
    assert "int" in message


# ------------------------------------------------------------------ queue names


@pytest.mark.parametrize(
    "call",
    [
        lambda q: q.enqueue("", "Job"),  # accepted before, then refused by every Worker
        lambda q: q.enqueue_front("", "Job"),
        lambda q: q.enqueue_at(NOW * 1000, "", "Job"),
        lambda q: q.enqueue_in(1000, "", "Job"),
        lambda q: q.delete("", "Job"),
        lambda q: q.del_delayed("", "Job"),
        lambda q: q.scheduled_at("", "Job"),
        lambda q: q.queued(""),
        lambda q: q.length(""),
        lambda q: q.delete_queue(""),
        lambda q: q.del_by_function("", "Job"),
    ],
    ids=[
        "enqueue",
        "enqueue_front",
        "enqueue_at",
        "enqueue_in",
        "delete",
        "del_delayed",
        "scheduled_at",
        "queued",
        "length",
        "delete_queue",
        "del_by_function",
    ],
)
async def test_every_queue_api_refuses_an_empty_queue(
    queue: Queue, backend: Backend, call: Call
) -> None:
    await refused(call(queue), "queue")
    await nothing_written(backend)


# ------------------------------------------------------------------ the task API


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda t: t.enqueue("send_email", {"to": "a"}, queue=""), "queue"),  # went to "mail"
        (lambda t: t.enqueue_at(NOW * 1000, "send_email", {"to": "a"}, ""), "queue"),
        (lambda t: t.enqueue_in(1000, "send_email", {"to": "a"}, ""), "queue"),
        (lambda t: t.enqueue("", {"to": "a"}), "name"),
        (lambda t: t.enqueue(None, {"to": "a"}), "name"),
        (lambda t: t.enqueue_at(1e30, "send_email", {"to": "a"}), "timestamp"),
        (lambda t: t.enqueue_at(math.nan, "send_email", {"to": "a"}), "timestamp"),
        (lambda t: t.enqueue_in(-5, "send_email", {"to": "a"}), "delay"),
        (lambda t: t.enqueue_in(math.inf, "send_email", {"to": "a"}), "delay"),
        (lambda t: t.del_by_function("mail", ""), "name"),
        (lambda t: t.del_by_function("mail", "send_email", "a"), "start"),
        (lambda t: t.queued("mail", 0, "9"), "stop"),
        (lambda t: t.failed(start="a"), "start"),
        (lambda t: t.delete("", "send_email", {"to": "a"}), "queue"),
    ],
    ids=[
        "enqueue-queue",
        "enqueue_at-queue",
        "enqueue_in-queue",
        "enqueue-empty-name",
        "enqueue-none-name",
        "enqueue_at-1e30",
        "enqueue_at-nan",
        "enqueue_in-negative",
        "enqueue_in-inf",
        "del_by_function-name",
        "del_by_function-start",
        "queued-stop",
        "failed-start",
        "delete-queue",
    ],
)
async def test_the_task_api_refuses_bad_arguments(
    api: TaskAPI, backend: Backend, call: TaskCall, argument: str
) -> None:
    await refused(call(api), argument)
    await nothing_written(backend)


async def test_an_unknown_task_name_suggests_close_names(api: TaskAPI) -> None:
    with pytest.raises(UnknownJob, match="did you mean: send_email; known: send_email"):
        await api.enqueue("send_emial", {"to": "a"})
