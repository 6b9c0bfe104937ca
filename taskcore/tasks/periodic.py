"""Periodic tasks: one instance in the whole cluster, every ``frequency`` seconds.

The mechanism is Actionhero's (spec section 7.3), with its payload bug fixed:

* a periodic task's job carries the plugins JobLock (``re_enqueue=False``: a second copy that
  reaches a worker while one runs is dropped, not re-delayed), QueueLock (a second copy cannot
  be queued while one waits) and DelayQueueLock (nor while one is scheduled);
* after each run (and after a failed run when ``re_enqueue_periodic_task_if_exception``), the
  next run is scheduled ``frequency`` seconds later with ``suppress_duplicate=True``;
* at boot, the scheduler node calls :func:`enqueue_all_recurrent_tasks`;
* when the scheduler declares a worker dead while it ran a periodic task, the copy went to the
  failed list and nothing would schedule the next run: :func:`watch_stuck_workers` releases the
  dead copy's JobLock and schedules the next run (:func:`recover_recurrent_tasks`).

Every recurring copy is the task's canonical payload ``[task.encode({})]``, and the deletes in
:func:`enqueue_recurrent_task` and :func:`stop_recurrent_task` use the very same bytes. Actionhero
enqueues ``[{}]`` but deletes ``[null]``, so its deletes never match (spec 7.1); ours do. For a
task without input defaults the canonical payload *is* ``[{}]``, so copies written by Actionhero
are matched as well.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from taskcore.codec import dumps
from taskcore.errors import DuplicateJobError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from taskcore.codec import Failure
    from taskcore.queue import Queue
    from taskcore.scheduler import Scheduler
    from taskcore.tasks.registry import TaskRegistry
    from taskcore.tasks.task import Task

__all__ = [
    "enqueue_all_recurrent_tasks",
    "enqueue_recurrent_task",
    "recover_recurrent_tasks",
    "stop_recurrent_task",
    "watch_stuck_workers",
]

log = logging.getLogger("taskcore.tasks")


def recurrent_args(task: Task) -> list[list[object]]:
    """Every args list a recurring copy of ``task`` may carry: ours first, then Actionhero's."""
    ours: list[object] = list(task.args({}))
    variants = [ours]
    if ours != [{}]:
        variants.append([{}])
    return variants


async def enqueue_recurrent_task(queue: Queue, task: Task) -> bool:
    """Schedule the next run of ``task`` in ``task.frequency`` seconds (a no-op returning False
    for a non-periodic task).

    Any queued or scheduled copy is removed first, so exactly one next run exists; a copy that
    another node scheduled at the same second is suppressed, not an error.
    """
    if not task.is_periodic:
        return False
    args = task.args({})
    await queue.delete(task.queue, task.name, args)
    await queue.del_delayed(task.queue, task.name, args)
    return await queue.enqueue_in(
        timedelta(seconds=task.frequency_seconds),
        task.queue,
        task.name,
        args,
        suppress_duplicate=True,
    )


async def enqueue_all_recurrent_tasks(queue: Queue, registry: TaskRegistry) -> list[str]:
    """Enqueue every periodic task now (run this on scheduler nodes at boot); returns the names
    actually enqueued.

    Safe to run on many nodes at once: the locks let exactly one copy of each task in.
    """
    enqueued: list[str] = []
    for task in registry.tasks():
        if not task.is_periodic:
            continue
        try:
            if await queue.enqueue(task.queue, task.name, task.args({})):
                enqueued.append(task.name)
        except DuplicateJobError as exc:
            log.warning("periodic task %s is already enqueued: %s", task.name, exc)
    return enqueued


async def stop_recurrent_task(queue: Queue, task: Task) -> int | None:
    """Remove every queued and scheduled recurring copy of ``task``; returns how many were
    removed (None for a non-periodic task).

    A copy already running on a worker still finishes and re-schedules itself: stop the task in
    code (frequency 0) to end it for good. The QueueLock a queued copy held is released too, so
    the task can be started again at once.
    """
    if not task.is_periodic:
        return None
    removed = 0
    for args in recurrent_args(task):
        removed += await queue.delete(task.queue, task.name, args)
        removed += len(await queue.del_delayed(task.queue, task.name, args))
        await queue.del_lock(f"lock:{task.name}:{task.queue}:{dumps(args)}")
    return removed


async def recover_recurrent_tasks(
    queue: Queue, registry: TaskRegistry, failures: Sequence[Failure]
) -> list[str]:
    """Schedule the next run of every periodic task whose running copy is among ``failures``
    (the jobs of a worker declared dead); returns their names.

    The dead copy's JobLock (default key) is released first: it would otherwise drop every copy
    for ``lock_timeout`` seconds. With ``retry_stuck_jobs`` the dead copy may also be back in its
    queue; :func:`enqueue_recurrent_task` removes it, so one chain of runs remains.
    """
    recovered: list[str] = []
    for failure in failures:
        name = failure.payload.get("class")
        if not isinstance(name, str) or name not in registry:
            continue
        task = registry.get(name)
        if not task.is_periodic:
            continue
        args = failure.payload.get("args")
        await queue.del_lock(f"workerslock:{name}:{failure.queue}:{dumps(args)}")
        await enqueue_recurrent_task(queue, task)
        recovered.append(name)
    return recovered


def watch_stuck_workers(scheduler: Scheduler, queue: Queue, registry: TaskRegistry) -> None:
    """Make ``scheduler`` recover periodic tasks whose worker it declares dead (see
    :func:`recover_recurrent_tasks`); the App does this on scheduler nodes."""

    async def on_clean(worker: str, failures: list[Failure], age: float) -> None:
        names = await recover_recurrent_tasks(queue, registry, failures)
        if names:
            log.warning(
                "worker %s died running periodic task(s) %s; next runs scheduled",
                worker,
                ", ".join(names),
            )

    scheduler.on("clean_stuck_worker", on_clean)
