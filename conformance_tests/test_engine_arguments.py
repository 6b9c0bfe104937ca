"""Bad arguments are refused at the API on every driver, before anything reaches storage.

One test per API family (enqueue, ranges, the task API): each call raises
:class:`~taskcore.errors.InvalidArgument` naming the argument, and the driver's storage is left
as it was. Before, ``1e30`` ms was scheduled, ``failed(start="a")`` surfaced as the driver's own
error, and ``""`` was accepted as a queue that no worker can take jobs from.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from taskcore.backend import Backend
from taskcore.clock import FakeClock
from taskcore.codec import encode_job
from taskcore.errors import InvalidArgument
from taskcore.queue import Queue
from taskcore.tasks import TaskAPI, TaskRegistry

NOW = 1_800_000_000.0


async def assert_refused(calls: list[tuple[Awaitable[Any], str]]) -> None:
    for call, argument in calls:
        with pytest.raises(InvalidArgument) as info:
            await call
        assert str(info.value).startswith(argument), str(info.value)


async def assert_untouched(backend: Backend, queue: str = "q") -> None:
    assert await backend.queue_range(queue, 0, -1) == [encode_job("Keep", queue, [])]
    assert await backend.delayed_timestamps() == []
    assert await backend.failure_count() == 0


async def test_enqueue_family_refuses_bad_queues_timestamps_and_delays(backend: Backend) -> None:
    queue: Any = Queue(backend, clock=FakeClock(NOW))  # Any: the calls break the annotations
    await queue.enqueue("q", "Keep")
    await assert_refused(
        [
            (queue.enqueue("", "Job"), "queue"),
            (queue.enqueue_front("", "Job"), "queue"),
            (queue.enqueue_at(1e30, "q", "Job"), "timestamp"),
            (queue.enqueue_at(math.nan, "q", "Job"), "timestamp"),
            (queue.enqueue_at(-1, "q", "Job"), "timestamp"),
            (queue.enqueue_at(True, "q", "Job"), "timestamp"),
            (queue.enqueue_in(-1, "q", "Job"), "delay"),
            (queue.enqueue_in(math.inf, "q", "Job"), "delay"),
            (queue.enqueue_in(timedelta(seconds=-1), "q", "Job"), "delay"),
            (queue.delete("", "Keep"), "queue"),
            (queue.del_delayed("", "Job"), "queue"),
            (queue.scheduled_at("", "Job"), "queue"),
        ]
    )
    await assert_untouched(backend)


async def test_range_family_takes_ints_and_named_queues(backend: Backend) -> None:
    queue: Any = Queue(backend, clock=FakeClock(NOW))
    await queue.enqueue("q", "Keep")
    await assert_refused(
        [
            (queue.failed(start="a"), "start"),  # the driver's own error before
            (queue.failed(0, True), "stop"),
            (queue.queued("q", 0, 1.5), "stop"),
            (queue.queued(""), "queue"),
            (queue.del_by_function("q", "Keep", "0"), "start"),
            (queue.del_by_function("", "Keep"), "queue"),
            (queue.delete("q", "Keep", None, 1.0), "count"),
            (queue.delete_queue(""), "queue"),
        ]
    )
    await assert_untouched(backend)


async def test_task_api_family_refuses_bad_arguments(backend: Backend) -> None:
    tasks = TaskRegistry()

    @tasks.task(queue="q")
    async def resize(width: int) -> None: ...

    api: Any = TaskAPI(Queue(backend, tasks.jobs, clock=FakeClock(NOW)), tasks)
    await api.queue.enqueue("q", "Keep")
    calls: list[tuple[Callable[[], Awaitable[Any]], str]] = [
        (lambda: api.enqueue("resize", {"width": 1}, queue=""), "queue"),  # went to "q"
        (lambda: api.enqueue("", {"width": 1}), "name"),
        (lambda: api.enqueue_at(1e30, "resize", {"width": 1}), "timestamp"),
        (lambda: api.enqueue_in(-5, "resize", {"width": 1}), "delay"),
        (lambda: api.failed(start="a"), "start"),
        (lambda: api.queued("q", "0"), "start"),
        (lambda: api.del_by_function("q", "resize", 0, None), "stop"),
    ]
    await assert_refused([(make(), argument) for make, argument in calls])
    await assert_untouched(backend)
