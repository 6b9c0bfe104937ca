"""Enqueue notifications: one pub/sub subscription per backend, fanned out to idle workers.

Every script that pushes into a queue (push, promote_due, retry_failure) publishes the queue's
name on :attr:`Keys.pushed_channel`. :class:`PushListener` holds the backend's single
subscription (opened lazily by the first :meth:`RedisBackend.wake_up`, closed by ``aclose``) and
sets the event of every :class:`QueueWakeUp` watching that queue.

node-resque does not publish: a job it enqueues is found by the worker's poll fallback (the
``wait`` timeout), not by a notification. When the subscription's connection fails, every
watcher is woken (so workers look at their queues) and the listener resubscribes with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from taskcore.backend import QueueWakeUp

__all__ = ["PushListener"]

_SUBSCRIBE_CONFIRM_TIMEOUT = 5.0
_RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def _close_quietly(pubsub: PubSub) -> None:
    """Close a subscription whose connection may already be broken."""
    with contextlib.suppress(redis_errors.RedisError, OSError):
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py


class PushListener:
    """The backend's one subscription to its pushed channel.

    :meth:`watch` returns only once the server has confirmed the subscription, so a push made
    after it (from any connection) is always seen.
    """

    def __init__(self, client: Redis, channel: str) -> None:
        self._client = client
        self._channel = channel
        self._watchers: set[QueueWakeUp] = set()
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()

    async def watch(self, queues: Iterable[str]) -> QueueWakeUp:
        """A new watcher for ``queues``, subscribing first if this is the first one."""
        await self._start()
        wakeup = QueueWakeUp(queues, self.remove)
        self._watchers.add(wakeup)
        return wakeup

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
        await pubsub.subscribe(self._channel)
        async with asyncio.timeout(_SUBSCRIBE_CONFIRM_TIMEOUT):
            while True:
                message = await pubsub.get_message(timeout=_SUBSCRIBE_CONFIRM_TIMEOUT)
                if message is not None and message["type"] in ("subscribe", b"subscribe"):
                    return

    async def _run(self, pubsub: PubSub) -> None:
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            except (redis_errors.RedisError, OSError):
                # Pushes made while the connection is down are lost: make everyone look.
                self._notify_all()
                pubsub = await self._resubscribe(pubsub)
                continue
            if message is None or message["type"] not in ("message", b"message"):
                continue
            queue = _text(message["data"])
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
