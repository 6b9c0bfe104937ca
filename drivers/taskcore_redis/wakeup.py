"""Enqueue notifications: one pub/sub subscription per backend, fanned out to idle workers.

Every script that pushes into a queue (push, promote_due, retry_failure) publishes the queue's
name on :attr:`Keys.pushed_channel`. :class:`PushListener` holds the backend's single
subscription (opened lazily by the first :meth:`RedisBackend.wake_up`, closed by ``aclose``) and
sets the event of every :class:`QueueWakeUp` watching that queue.

node-resque and Ruby resque do not publish. Where the server has **keyspace notifications for
lists** enabled (``notify-keyspace-events`` holding ``K`` and ``l``, or ``A``: the one setting
is ``CONFIG SET notify-keyspace-events Kl``, or ``notify-keyspace-events Kl`` in redis.conf),
the listener detects it with ``CONFIG GET`` when it subscribes and also PSUBSCRIBEs
``__keyspace@<db>__:<ns>:queue:*``, so a job any producer pushes (an ``RPUSH``/``LPUSH`` by
node-resque, resque or redis-cli) wakes idle workers within milliseconds; its watchers then
report :attr:`~taskcore.backend.WakeUp.sees_foreign_pushes`. Otherwise (notifications off,
``CONFIG`` refused by a managed server, a Redis Cluster) such a job is found by the worker's
poll (its ``poll_interval``). When the subscription's connection fails, every watcher is woken
(so workers look at their queues) and the listener resubscribes with back-off.

On a Redis Cluster the listener is ``sharded``: the channel is a shard channel (SSUBSCRIBE to
the node serving the channel's slot, which is the namespace's slot, and the scripts SPUBLISH),
so a push costs one node, not a broadcast over the cluster bus. Unsharded, it SUBSCRIBEs to one
node and the scripts PUBLISH, which the cluster relays to every node (the fallback for servers
without sharded pub/sub, before Redis 7).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterPubSub

from taskcore.backend import QueueWakeUp
from taskcore_redis.access import text
from taskcore_redis.keys import glob_escape

__all__ = ["PushListener"]

_SUBSCRIBE_CONFIRM_TIMEOUT = 5.0
_LIST_PUSH_EVENTS = frozenset({"rpush", "lpush", "rpushx", "lpushx", "linsert"})
"""Keyspace events that put an element in a list (LMOVE and friends report their destination
with ``lpush``/``rpush``)."""


def keyspace_lists_enabled(flags: str) -> bool:
    """True when a ``notify-keyspace-events`` value publishes keyspace events for lists."""
    return "K" in flags and ("l" in flags or "A" in flags)


_RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


async def _close_quietly(pubsub: PubSub) -> None:
    """Close a subscription whose connection may already be broken."""
    with contextlib.suppress(redis_errors.RedisError, OSError):
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py


class PushListener:
    """The backend's one subscription to its pushed channel.

    :meth:`watch` returns only once the server has confirmed the subscription, so a push made
    after it (from any connection) is always seen.
    """

    def __init__(
        self,
        client: Redis | RedisCluster,
        channel: str,
        *,
        sharded: bool = False,
        queue_prefix: str | None = None,
    ) -> None:
        self._client = client
        self._channel = channel
        self._queue_prefix = queue_prefix
        """The full key prefix of queue lists (``<ns>:queue:``) to watch through keyspace
        notifications when the server has them on; None never looks."""
        self._keyspace: str | None = None  # the PSUBSCRIBEd pattern, without its "*"
        self.sharded = sharded
        """SSUBSCRIBE (shard channel, Redis Cluster only) instead of SUBSCRIBE; read when the
        subscription is (re)opened."""
        self._watchers: set[QueueWakeUp] = set()
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()

    async def watch(self, queues: Iterable[str]) -> QueueWakeUp:
        """A new watcher for ``queues``, subscribing first if this is the first one."""
        await self._start()
        wakeup = QueueWakeUp(queues, self.remove)
        wakeup.sees_foreign_pushes = self._keyspace is not None
        self._watchers.add(wakeup)
        return wakeup

    @property
    def keyspace_notifications(self) -> bool:
        """True while the subscription also receives the server's keyspace events for queue
        lists, so pushes by any producer wake watchers."""
        return self._keyspace is not None

    async def _keyspace_pattern(self) -> str | None:
        """``__keyspace@<db>__:<ns>:queue:`` when the server publishes keyspace events for
        lists (checked with CONFIG GET), else None. Never on a cluster."""
        if self._queue_prefix is None or not isinstance(self._client, Redis):
            return None
        try:
            config = await self._client.config_get("notify-keyspace-events")
        except (redis_errors.RedisError, OSError):
            return None  # CONFIG refused (a managed server): poll instead
        values = list(config.values()) if isinstance(config, dict) else []
        flags = values[0] if values and isinstance(values[0], str | bytes) else ""
        if not keyspace_lists_enabled(text(flags)):
            return None
        db = self._client.connection_pool.connection_kwargs.get("db", 0)
        return f"__keyspace@{db}__:{self._queue_prefix}"

    def remove(self, wakeup: QueueWakeUp) -> None:
        """Stop feeding ``wakeup``. Idempotent."""
        self._watchers.discard(wakeup)

    async def _start(self) -> None:
        async with self._start_lock:
            if self._task is not None and not self._task.done():
                return
            pubsub = self._client.pubsub()
            try:
                await self._subscribe(pubsub)
            except BaseException:
                await _close_quietly(pubsub)
                raise
            self._pubsub = pubsub
            self._task = asyncio.create_task(self._run(pubsub), name="taskcore-redis-wakeup")

    async def _subscribe(self, pubsub: PubSub) -> None:
        keyspace = await self._keyspace_pattern()
        if isinstance(pubsub, ClusterPubSub) and self.sharded:
            await pubsub.ssubscribe(self._channel)
        else:
            await pubsub.subscribe(self._channel)
        needed = {"subscribe"}
        if keyspace is not None:
            await pubsub.psubscribe(glob_escape(keyspace) + "*")
            needed.add("psubscribe")
        async with asyncio.timeout(_SUBSCRIBE_CONFIRM_TIMEOUT):
            while needed:
                message = await self._next(pubsub, _SUBSCRIBE_CONFIRM_TIMEOUT, confirmations=True)
                if message is not None:
                    kind = text(message["type"])
                    needed.discard("subscribe" if kind == "ssubscribe" else kind)
        self._keyspace = keyspace
        for watcher in self._watchers:
            watcher.sees_foreign_pushes = keyspace is not None

    async def _next(
        self, pubsub: PubSub, timeout: float | None, *, confirmations: bool = False
    ) -> dict[str, Any] | None:
        """The next message of either kind of subscription (None on timeout)."""
        if isinstance(pubsub, ClusterPubSub) and self.sharded:
            if not pubsub.node_pubsub_mapping:  # nothing left to read from: resubscribe
                raise redis_errors.ConnectionError("the shard channel subscription was dropped")
            # typed as a float only: "no timeout" is an hour, then the caller reads again
            return await pubsub.get_sharded_message(
                ignore_subscribe_messages=not confirmations,
                timeout=3600.0 if timeout is None else timeout,
            )
        message: dict[str, Any] | None = await pubsub.get_message(
            ignore_subscribe_messages=not confirmations, timeout=timeout
        )
        return message

    async def _run(self, pubsub: PubSub) -> None:
        while True:
            try:
                message = await self._next(pubsub, None)
            except (redis_errors.RedisError, OSError):
                # Pushes made while the connection is down are lost: make everyone look.
                self._notify_all()
                pubsub = await self._resubscribe(pubsub)
                continue
            if message is None:
                continue
            kind = text(message["type"])
            if kind in ("message", "smessage"):
                queue = text(message["data"])
            elif kind == "pmessage" and self._keyspace is not None:
                if text(message["data"]) not in _LIST_PUSH_EVENTS:
                    continue  # a pop, a trim or a delete: nothing new to work
                queue = text(message["channel"])[len(self._keyspace) :]
            else:
                continue
            for watcher in list(self._watchers):
                watcher.notify(queue)

    async def _resubscribe(self, broken: PubSub) -> PubSub:
        """A fresh, confirmed subscription, retried with back-off until the server is back."""
        await _close_quietly(broken)
        attempt = 0
        while True:
            await asyncio.sleep(_RETRY_DELAYS[min(attempt, len(_RETRY_DELAYS) - 1)])
            attempt += 1
            pubsub = self._client.pubsub()
            try:
                await self._subscribe(pubsub)
            except (redis_errors.RedisError, OSError):
                await _close_quietly(pubsub)
                continue
            self._pubsub = pubsub
            # Pushes made before the new subscription was confirmed were missed.
            self._notify_all()
            return pubsub

    def _notify_all(self) -> None:
        for watcher in list(self._watchers):
            watcher.notify()

    async def aclose(self) -> None:
        """Unsubscribe, wake and drop every watcher. Idempotent; :meth:`watch` restarts."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await _close_quietly(pubsub)
        self._notify_all()
        self._watchers.clear()
