"""Task scope: ``scope="any"`` (default: one node runs each job) or ``scope="all"`` (every
running App runs the task once per trigger, e.g. to drop a local cache on every node).

The design, on the Backend protocol only (so it works across processes and machines on Redis
and PostgreSQL, and within one process on the memory driver):

* **Nodes.** Each started App that runs workers and has a ``scope="all"`` task is a *node*: it
  gets a fresh id (its name plus a random suffix, so a restarted process is a new node) and a
  private queue ``taskcore-node.<id>`` (:func:`node_queue`). It announces itself with a lock
  ``taskcore-nodes:<id>`` (value: its name) that it re-sets every ``ttl / 3`` seconds; the lock
  expires ``ttl`` seconds after the node stops renewing it (a dead or partitioned node). One
  extra worker per node works the private queue; wildcard workers (``queues="*"``) never
  reserve from any node's private queue (:data:`taskcore.queue.NODE_QUEUE_PREFIX`).
* **Triggers.** Enqueuing a ``scope="all"`` task (now, at a time, periodic or cron) writes ONE
  ordinary job on the task's queue, so enqueue hooks and middleware run once, and delayed,
  periodic and cron triggers need nothing special. The worker that takes that job does not run
  the task: it *fans out* (:func:`fan_out`), pushing one copy to the private queue of each node
  alive at that moment. The trigger counts as processed; its result is the node ids.
* **Exactly once per live node**: each copy is an ordinary job in one node's queue, reserved
  once. A node that starts later has a new, empty queue, so it gets no old runs. A node's
  queue is deleted when it stops cleanly, and every fan-out deletes the queues of nodes whose
  lock has expired, so a dead node's copies never pile up (at most the copies of the triggers
  fanned out between its death and its lock's expiry wait, until the next fan-out).

Limits: a node that dies after its copy was pushed but before running it misses that run (the
copy is deleted with its queue); a node whose lock lapsed (storage unreachable for longer than
``ttl``) loses the copies waiting in its queue, and is counted again when it next renews; the
task's perform hooks and middleware see the fan-out step (on the task's queue) as well as each
node's run (on ``taskcore-node.*``), ``context.queue`` tells them apart. A node-resque worker
working every queue would take copies from private queues: give node-resque workers explicit
queue lists on a shared namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import uuid
from typing import TYPE_CHECKING, Any

from taskcore import codec
from taskcore.events import sleep_or_stop
from taskcore.queue import NODE_QUEUE_PREFIX

if TYPE_CHECKING:
    from taskcore.backend import Backend
    from taskcore.clock import Clock
    from taskcore.queue import Queue
    from taskcore.tasks.registry import TaskRegistry
    from taskcore.tasks.task import Task

__all__ = [
    "NODE_LOCK_PREFIX",
    "NODE_QUEUE_PREFIX",
    "Node",
    "NodeRunner",
    "fan_out",
    "is_node_queue",
    "live_nodes",
    "node_queue",
]

log = logging.getLogger("taskcore.tasks")

NODE_LOCK_PREFIX = "taskcore-nodes:"
"""Lock-name prefix of the node announcements (``taskcore-nodes:<node id>``)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def node_queue(node_id: str) -> str:
    """The private queue of node ``node_id``."""
    return f"{NODE_QUEUE_PREFIX}{node_id}"


def is_node_queue(queue: str) -> bool:
    """True for a node's private queue (a scope-"all" copy), False for ordinary queues."""
    return queue.startswith(NODE_QUEUE_PREFIX)


async def live_nodes(backend: Backend) -> list[str]:
    """The ids of the nodes whose announcement has not expired, sorted."""
    locks = await backend.list_locks(NODE_LOCK_PREFIX)
    return sorted(name[len(NODE_LOCK_PREFIX) :] for name in locks)


async def fan_out(queue: Queue, task: Task, args: list[Any]) -> list[str]:
    """Push one copy of ``task`` with ``args`` to the private queue of every live node, then
    delete the private queues of nodes no longer alive; returns the node ids served."""
    backend = queue.backend
    known = await backend.list_queues()
    nodes = await live_nodes(backend)
    alive = [node_queue(n) for n in nodes]
    if alive:  # one round trip for every copy
        await backend.push_many([(q, codec.encode_job(task.name, q, args)) for q in alive])
    for name in known:
        if is_node_queue(name) and name not in alive:
            dropped = await backend.delete_queue(name)
            log.info("node queue %s deleted (node gone): %d copies dropped", name, dropped)
    return nodes


class Node:
    """One App's membership in the set of nodes that run ``scope="all"`` tasks.

    ``ttl`` (seconds) is how long the announcement outlives the last renewal; it is renewed
    every ``ttl / 3`` seconds on ``clock``.
    """

    def __init__(self, backend: Backend, name: str, clock: Clock, *, ttl: float = 30.0) -> None:
        self.backend = backend
        self.name = name
        self.clock = clock
        self.ttl = max(3, math.ceil(ttl))
        self.id = f"{_UNSAFE.sub('-', name).strip('-') or 'node'}.{uuid.uuid4().hex[:8]}"
        self.queue = node_queue(self.id)
        self._lock = f"{NODE_LOCK_PREFIX}{self.id}"
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def join(self) -> None:
        """Announce this node now and keep announcing it until :meth:`leave`."""
        await self.backend.set_lock(self._lock, self.name, self.ttl)
        self._stop.clear()
        self._task = asyncio.create_task(self._renew(), name=f"taskcore-node {self.id}")

    async def _renew(self) -> None:
        while not await sleep_or_stop(self.clock, self.ttl / 3, self._stop):
            try:
                await self.backend.set_lock(self._lock, self.name, self.ttl)
            except Exception as exc:
                log.warning("node %s could not renew its announcement: %s", self.id, exc)

    async def leave(self) -> None:
        """Stop announcing, withdraw the announcement and delete the private queue."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.backend.release_lock(self._lock, self.name)
        await self.backend.delete_queue(self.queue)


class NodeRunner:
    """A :class:`Node` and the worker of its private queue: what an App runs when it has
    workers and ``scope="all"`` tasks. ``name`` defaults to ``<hostname>:<pid>``;
    ``timeout``/``shutdown_timeout`` are the worker's (seconds); the node's announcement lives
    ``max(30, 3 * timeout)`` seconds. The worker is called ``<name>+node``."""

    def __init__(
        self,
        queue: Queue,
        registry: TaskRegistry,
        name: str | None,
        clock: Clock,
        *,
        timeout: float = 5.0,
        shutdown_timeout: float | None = 30.0,
    ) -> None:
        from taskcore.worker import Worker, default_name

        name = name or default_name()
        self.node = Node(queue.backend, name, clock, ttl=max(30.0, 3 * timeout))
        self.worker = Worker(
            queue.backend,
            registry.jobs,
            queues=[self.node.queue],
            name=f"{name}+node",
            timeout=timeout,
            clock=clock,
            queue=queue,
            shutdown_timeout=shutdown_timeout,
        )

    @property
    def queue(self) -> str:
        """This node's private queue."""
        return self.node.queue

    @staticmethod
    def wanted(registry: TaskRegistry) -> bool:
        """True when ``registry`` has a ``scope="all"`` task."""
        return any(task.scope == "all" for task in registry.tasks())

    async def start(self) -> None:
        """Announce the node, then start working its private queue."""
        await self.node.join()
        await self.worker.start()

    async def end(self) -> None:
        """Finish the running copy, stop the worker, then leave (queue deleted)."""
        try:
            await self.worker.end()
        finally:
            await self.node.leave()
