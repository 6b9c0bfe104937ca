"""Test helpers (Actionhero's specHelper, for pytest): in-memory storage, fake time, task runs.

::

    from taskcore.testing import FakeClock, drain, memory_backend, run_task

    async def test_welcome(tasks):
        assert await run_task(tasks, "add", {"a": 1, "b": 2}) == 3

        async with memory_backend() as backend:
            queue = Queue(backend, tasks.jobs)
            await TaskAPI(queue, tasks).enqueue("add", {"a": 1, "b": 2})
            assert await drain(backend, tasks) == 1

Every :func:`memory_backend` gets a fresh namespace unless one is given, so tests never see
each other's jobs.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from taskcore.backend import Backend
from taskcore.clock import Clock, FakeClock
from taskcore.jobs import JobDefinition
from taskcore.queue import Queue
from taskcore.registry import connect
from taskcore.tasks.registry import TaskRegistry
from taskcore.worker import Worker

__all__ = [
    "EnqueuedTask",
    "FakeClock",
    "delete_enqueued_tasks",
    "drain",
    "find_enqueued_tasks",
    "memory_backend",
    "run_full_task",
    "run_task",
]


def memory_backend(namespace: str | None = None, *, server: str = "") -> Backend:
    """An unopened in-memory backend; use ``async with memory_backend() as backend``.

    ``namespace`` defaults to a fresh ``test-<random>`` one. Backends with the same ``server``
    and ``namespace`` in one process share data (``server`` picks ``memory://<server>``).
    """
    return connect(f"memory://{server}", namespace=namespace or f"test-{uuid.uuid4().hex[:12]}")


async def run_task(
    registry: TaskRegistry, name: str, inputs: Mapping[str, Any] | None = None
) -> Any:
    """Run task ``name``'s function directly: inputs validated (and JSON round-tripped, as a
    worker would see them); no plugins, no middleware, no storage. Returns its result.

    Raises :class:`~taskcore.errors.UnknownJob` for an unknown task and
    :class:`~taskcore.errors.ValidationError` for invalid inputs.
    """
    task = registry.get(name)
    return await task.perform(task.encode(inputs), None)


async def run_full_task(
    registry: TaskRegistry,
    backend: Backend,
    name: str,
    inputs: Mapping[str, Any] | None = None,
    *,
    clock: Clock | None = None,
) -> Any:
    """Run task ``name`` in this process through its plugins and middleware
    (:meth:`Worker.perform_inline`), as a worker would, without queueing it.

    Plugins reach storage through ``backend`` (locks, a periodic task's next run, Retry);
    returns the task's result, None when a pre-processor skipped it; re-raises its error.
    """
    task = registry.get(name)
    worker = Worker(backend, registry.jobs, queues=[task.queue], clock=clock)
    return await worker.perform_inline(name, task.args(inputs))


@dataclass(frozen=True, slots=True)
class EnqueuedTask:
    """A queued or delayed job of a task: ``timestamp`` in unix ms (None when queued)."""

    name: str
    queue: str
    args: list[Any]
    timestamp: int | None

    @property
    def inputs(self) -> Any:
        """The inputs object (the single element of ``args``), None when absent."""
        return self.args[0] if self.args else None


def _queue_of(target: Queue | Backend) -> Queue:
    return target if isinstance(target, Queue) else Queue(target)


async def find_enqueued_tasks(target: Queue | Backend, name: str) -> list[EnqueuedTask]:
    """Every job of ``name`` waiting in any queue (queue order), then every delayed one
    (timestamp order)."""
    queue = _queue_of(target)
    found: list[EnqueuedTask] = []
    for q in await queue.queues():
        for job in await queue.queued(q):
            if job.class_name == name:
                found.append(EnqueuedTask(name, job.queue or q, list(job.args), None))
    for ms, jobs in sorted((await queue.all_delayed()).items()):
        for job in jobs:
            if job.class_name == name:
                found.append(EnqueuedTask(name, job.queue, list(job.args), ms))
    return found


async def delete_enqueued_tasks(
    target: Queue | Backend,
    registry: TaskRegistry,
    name: str,
    inputs: Mapping[str, Any] | None = None,
) -> int:
    """Remove every queued and delayed job of ``name`` with these inputs; how many."""
    queue = _queue_of(target)
    args = registry.get(name).args(inputs)
    removed = 0
    for q in await queue.queues():
        removed += await queue.delete(q, name, args)
        removed += len(await queue.del_delayed(q, name, args))
    return removed


async def drain(
    backend: Backend,
    jobs: TaskRegistry | Mapping[str, JobDefinition],
    *,
    queues: Sequence[str] | str = "*",
    clock: Clock | None = None,
    promote_due: bool = True,
    max_jobs: int = 10_000,
    worker: Worker | None = None,
) -> int:
    """Work jobs until ``queues`` are empty; returns how many were worked.

    With ``promote_due``, delayed jobs due at ``clock.now()`` are moved to their queues first
    (and again whenever the queues run dry), so ``clock.advance(60.5); await drain(...)`` runs
    what became due (resque stores due times in whole seconds and a job never runs early, so
    a job asked for in 60 s is due once 60.5 s have passed). Jobs scheduled by the drained
    jobs (a Retry, a periodic task's next run) run only once due. ``max_jobs`` guards against
    a job that re-enqueues itself forever. Pass ``worker`` to listen to its events.
    """
    definitions = jobs.jobs if isinstance(jobs, TaskRegistry) else jobs
    worker = worker or Worker(backend, definitions, queues=queues, clock=clock)
    now = worker.clock
    worked = 0
    while worked < max_jobs:
        if await worker.work_one():
            worked += 1
            continue
        if not promote_due or not await backend.promote_due(now.now()):
            break
    return worked
