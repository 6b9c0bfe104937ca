"""The task API (Actionhero's ``task.*``): enqueue tasks by name with validated inputs.

Every call is a thin layer over a :class:`~taskcore.queue.Queue`: it looks the task up, turns
its inputs into the resque args ``[inputs-object]`` (validated; :class:`ValidationError` and
nothing written when invalid) and delegates. ``queue`` arguments default to the task's queue.
Units are the Queue's: ``enqueue_at`` takes a ms timestamp or a datetime, ``enqueue_in`` ms or a
timedelta; ``del_delayed``/``scheduled_at`` return whole unix seconds.

Deletes and lookups by inputs (``delete``, ``del_delayed``, ``scheduled_at``) match payloads
byte for byte, so they encode the inputs exactly as ``enqueue`` did.

Arguments are checked before anything is written, raising
:class:`~taskcore.errors.InvalidArgument` naming the argument: ``name`` and ``queue`` are
non-empty strings (``queue=None`` means the task's queue; ``""`` is refused, not defaulted),
timestamps lie in 1970..9999, delays are >= 0, ``start``/``stop``/``count`` are ints (see
:mod:`taskcore.arguments`). An unknown task name is :class:`~taskcore.errors.UnknownJob`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from taskcore.arguments import check_name
from taskcore.tasks.periodic import (
    enqueue_all_recurrent_tasks,
    enqueue_recurrent_task,
    stop_recurrent_task,
)

if TYPE_CHECKING:
    from taskcore.codec import Failure, Job
    from taskcore.queue import Queue
    from taskcore.tasks.registry import TaskRegistry
    from taskcore.tasks.task import Task

__all__ = ["TaskAPI"]

Inputs = Mapping[str, Any] | None


class TaskAPI:
    """Tasks of ``registry`` enqueued and inspected through ``queue``."""

    def __init__(self, queue: Queue, registry: TaskRegistry) -> None:
        self.queue = queue
        self.registry = registry

    @staticmethod
    def _queue_for(task: Task, queue: str | None) -> str:
        """``queue`` when given (a non-empty string), else the task's own queue."""
        return task.queue if queue is None else check_name(queue, "queue")

    # ---------------------------------------------------------------- enqueue

    async def enqueue(self, name: str, inputs: Inputs = None, queue: str | None = None) -> bool:
        """Enqueue task ``name`` now; False when a plugin or middleware blocked it."""
        task = self.registry.get(name)
        return await self.queue.enqueue(self._queue_for(task, queue), name, task.args(inputs))

    async def enqueue_at(
        self,
        timestamp: int | datetime,
        name: str,
        inputs: Inputs = None,
        queue: str | None = None,
        *,
        suppress_duplicate: bool = False,
    ) -> bool:
        """Run task ``name`` at ``timestamp`` (unix **milliseconds**, or a datetime).

        :class:`~taskcore.errors.DuplicateJobError` if the same job is already scheduled at that
        second, unless ``suppress_duplicate`` (then False is returned).
        """
        task = self.registry.get(name)
        return await self.queue.enqueue_at(
            timestamp,
            self._queue_for(task, queue),
            name,
            task.args(inputs),
            suppress_duplicate=suppress_duplicate,
        )

    async def enqueue_in(
        self,
        delay: int | timedelta,
        name: str,
        inputs: Inputs = None,
        queue: str | None = None,
        *,
        suppress_duplicate: bool = False,
    ) -> bool:
        """Run task ``name`` after ``delay`` (**milliseconds**, or a timedelta); as enqueue_at."""
        task = self.registry.get(name)
        return await self.queue.enqueue_in(
            delay,
            self._queue_for(task, queue),
            name,
            task.args(inputs),
            suppress_duplicate=suppress_duplicate,
        )

    # ---------------------------------------------------------------- removal and lookup

    async def delete(self, queue: str, name: str, inputs: Inputs = None, count: int = 0) -> int:
        """Remove queued jobs of ``name`` with these inputs (``count`` 0 = all); how many."""
        task = self.registry.get(name)
        return await self.queue.delete(queue, name, task.args(inputs), count)

    async def del_by_function(self, queue: str, name: str, start: int = 0, stop: int = -1) -> int:
        """Remove queued jobs of ``name`` in index range ``start..stop``, whatever their inputs."""
        check_name(name, "name")
        return await self.queue.del_by_function(queue, name, start, stop)

    async def del_delayed(self, queue: str, name: str, inputs: Inputs = None) -> list[int]:
        """Unschedule ``name`` with these inputs; the unix **seconds** it was scheduled at."""
        task = self.registry.get(name)
        return await self.queue.del_delayed(queue, name, task.args(inputs))

    async def scheduled_at(self, queue: str, name: str, inputs: Inputs = None) -> list[int]:
        """Unix **seconds** at which ``name`` with these inputs is scheduled."""
        task = self.registry.get(name)
        return await self.queue.scheduled_at(queue, name, task.args(inputs))

    async def queued(self, queue: str, start: int = 0, stop: int = -1) -> list[Job]:
        """Jobs waiting in ``queue``, head first."""
        return await self.queue.queued(queue, start, stop)

    async def timestamps(self) -> list[int]:
        """Every ms timestamp holding delayed jobs, ascending."""
        return await self.queue.timestamps()

    async def all_delayed(self) -> dict[int, list[Job]]:
        """ms timestamp -> the jobs scheduled then."""
        return await self.queue.all_delayed()

    # ---------------------------------------------------------------- failures and stats

    async def failed_count(self) -> int:
        return await self.queue.failed_count()

    async def failed(self, start: int = 0, stop: int = -1) -> list[Failure]:
        return await self.queue.failed(start, stop)

    async def remove_failed(self, failure: Failure | str) -> int:
        return await self.queue.remove_failed(failure)

    async def retry_and_remove_failed(self, failure: Failure | str) -> bool:
        return await self.queue.retry_and_remove_failed(failure)

    async def stats(self) -> dict[str, int]:
        return await self.queue.stats()

    async def details(self) -> dict[str, Any]:
        """``{"queues": {q: {"length": n}}, "workers": ..., "stats": ..., "leader": ...}``."""
        return await self.queue.details()

    # ---------------------------------------------------------------- periodic tasks

    async def enqueue_recurrent_task(self, name: str) -> bool:
        """Schedule the next run of periodic task ``name``; False for a non-periodic task."""
        return await enqueue_recurrent_task(self.queue, self.registry.get(name))

    async def enqueue_all_recurrent_tasks(self) -> list[str]:
        """Enqueue every periodic task now, once in the cluster; the names enqueued."""
        return await enqueue_all_recurrent_tasks(self.queue, self.registry)

    async def stop_recurrent_task(self, name: str) -> int | None:
        """Remove the queued and scheduled copies of periodic task ``name``; how many."""
        return await stop_recurrent_task(self.queue, self.registry.get(name))
