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

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from taskcore.arguments import check_name, check_timestamp_ms
from taskcore.tasks.periodic import (
    enqueue_all_recurrent_tasks,
    enqueue_recurrent_task,
    stop_recurrent_task,
)
from taskcore.units import seconds

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

    async def enqueue_many(
        self, jobs: Iterable[tuple[str, Inputs] | tuple[str, Inputs, str | None]]
    ) -> list[bool]:
        """Enqueue each ``(name, inputs)`` or ``(name, inputs, queue)`` now, in order, in one
        storage round trip (:meth:`Queue.enqueue_many`); one bool per job, False where a plugin
        or middleware blocked it. Every task is looked up and every input validated first:
        one bad job raises with nothing written."""
        batch: list[tuple[str, str, Any]] = []
        for job in jobs:
            name, inputs = job[0], job[1]
            task = self.registry.get(name)
            queue = job[2] if len(job) > 2 else None
            batch.append((self._queue_for(task, queue), name, task.args(inputs)))
        return await self.queue.enqueue_many(batch)

    async def enqueue_front(
        self, name: str, inputs: Inputs = None, queue: str | None = None
    ) -> bool:
        """Enqueue task ``name`` at the HEAD of its queue: the next job a worker takes from
        that queue (the seeds' custom-queue ``enqueueFront``); False when blocked."""
        task = self.registry.get(name)
        return await self.queue.enqueue_front(self._queue_for(task, queue), name, task.args(inputs))

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

    async def del_delayed_at(self, timestamp: int | datetime) -> list[Job]:
        """Unschedule every job (any task) at ``timestamp`` (unix **milliseconds**, as
        :meth:`timestamps` lists them, or a datetime); returns the jobs removed (Stellar's
        "remove all tasks at a timestamp")."""
        return await self.queue.del_delayed_at(timestamp)

    async def scheduled_at(self, queue: str, name: str, inputs: Inputs = None) -> list[int]:
        """Unix **seconds** at which ``name`` with these inputs is scheduled."""
        task = self.registry.get(name)
        return await self.queue.scheduled_at(queue, name, task.args(inputs))

    async def queued(self, queue: str, start: int = 0, stop: int = -1) -> list[Job]:
        """Jobs waiting in ``queue``, head first."""
        return await self.queue.queued(queue, start, stop)

    async def queues(self) -> list[str]:
        """Every known queue name, sorted."""
        return await self.queue.queues()

    async def length(self, queue: str) -> int:
        """How many jobs wait in ``queue``."""
        return await self.queue.length(queue)

    async def del_queue(self, queue: str) -> None:
        """Delete ``queue`` and every job waiting in it (Actionhero's ``delQueue``)."""
        await self.queue.delete_queue(queue)

    async def timestamps(self) -> list[int]:
        """Every ms timestamp holding delayed jobs, ascending."""
        return await self.queue.timestamps()

    async def delayed_at(self, timestamp: float | datetime) -> tuple[list[Job], int]:
        """The jobs scheduled at ``timestamp`` (unix **milliseconds**, as :meth:`timestamps`
        lists them, or an aware datetime) and the unix **second** it rounds to (Actionhero's
        ``{tasks, rTimestamp}``)."""
        return await self.queue.delayed_at(check_timestamp_ms(timestamp, "timestamp"))

    async def all_delayed(self) -> dict[int, list[Job]]:
        """ms timestamp -> the jobs scheduled then."""
        return await self.queue.all_delayed()

    # ---------------------------------------------------------------- locks and workers

    async def locks(self) -> dict[str, str]:
        """Every plugin lock (QueueLock's ``lock:*``, JobLock's ``workerslock:*``):
        ``{name: value}``."""
        return await self.queue.locks()

    async def del_lock(self, name: str) -> int:
        """Delete lock ``name`` (as :meth:`locks` lists it); 1 if it existed, else 0."""
        return await self.queue.del_lock(name)

    async def workers(self) -> dict[str, str]:
        """Registered workers: ``{name: "q1,q2"}``."""
        return await self.queue.workers()

    async def working_on(self, name: str, queues: str | Sequence[str]) -> str | None:
        """Worker ``name``'s raw current-job record (it works ``queues``, ``"q1,q2"`` or a
        sequence), None when it is idle or unknown."""
        return await self.queue.working_on(name, queues)

    async def all_working_on(self) -> dict[str, dict[str, Any] | str]:
        """Every registered worker: its current job, or ``"started"`` when idle."""
        return await self.queue.all_working_on()

    async def clean_old_workers(self, age: float | timedelta) -> dict[str, list[Failure]]:
        """Remove workers that look dead, ``age`` **seconds** (or a timedelta) without a sign
        of life (Actionhero's ``cleanOldWorkers`` takes ms); their jobs go to the failed list.
        Returns ``{worker: failures recorded}``."""
        return await self.queue.clean_old_workers(seconds(age, "age"))

    async def force_clean_worker(self, name: str) -> list[Failure]:
        """Remove every trace of worker ``name``; its current job goes to the failed list."""
        return await self.queue.force_clean_worker(name)

    async def leader(self) -> str | None:
        """The name of the scheduler holding the leader lock, None when there is none."""
        return await self.queue.leader()

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
