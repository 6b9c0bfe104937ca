"""Enqueue wake-ups over LISTEN/NOTIFY: one listening connection per backend, fanned out.

Pushes and promotions send ``pg_notify(<channel>, <queue>)`` inside their own statement, so a
notification is delivered exactly when the job becomes visible (at commit). One dedicated
connection per backend LISTENs on the namespace's channel and sets the event of every
:class:`QueueWakeUp` watching that queue.

Notifications sent while the listening connection is down are lost, so whenever it drops or
comes back every waiter is woken: a spurious wake-up only costs the worker one empty reserve,
a missed one would cost it a whole poll timeout. Polling stays the correctness path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from taskcore.backend import QueueWakeUp

__all__ = ["NotificationHub"]

log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[asyncpg.Connection]]
Release = Callable[[asyncpg.Connection], Awaitable[None]]

_RECONNECT_DELAYS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
"""Seconds between attempts to re-open a dropped listener; the last repeats."""


class NotificationHub:
    """Owns the LISTEN connection of one backend: opened lazily on the first subscriber,
    re-opened in the background when it drops, closed with the backend."""

    def __init__(self, connect: Connect, release: Release, channel: str) -> None:
        self._connect = connect
        self._release = release
        self._channel = channel
        self._conn: asyncpg.Connection | None = None
        self._subscribers: set[QueueWakeUp] = set()
        self._lock = asyncio.Lock()
        self._reconnect: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def listening(self) -> bool:
        """True while the LISTEN connection is up."""
        return self._conn is not None and not self._conn.is_closed()

    async def subscribe(self, queues: Sequence[str]) -> QueueWakeUp:
        """A wake-up for ``queues``; LISTEN is active before this returns, so a push that
        commits afterwards is seen. Raises what ``connect`` raises when the server is down."""
        self._closed = False
        await self._ensure_listening()
        wake = QueueWakeUp(queues, self._subscribers.discard)
        self._subscribers.add(wake)
        return wake

    async def _ensure_listening(self) -> None:
        async with self._lock:
            if self.listening:
                return
            conn = await self._connect()
            try:
                await conn.add_listener(self._channel, self._on_notification)
            except BaseException:
                await self._release(conn)
                raise
            conn.add_termination_listener(self._on_terminated)
            self._conn = conn

    def _on_notification(
        self, conn: asyncpg.Connection, pid: int, channel: str, payload: str
    ) -> None:
        for wake in list(self._subscribers):
            wake.notify(payload)

    def _wake_all(self) -> None:
        for wake in list(self._subscribers):
            wake.notify(None)

    def _on_terminated(self, conn: asyncpg.Connection) -> None:
        if conn is not self._conn:
            return
        self._conn = None
        if self._closed:
            return
        log.warning("taskcore postgres: the LISTEN connection dropped; reconnecting")
        self._wake_all()
        if self._reconnect is None or self._reconnect.done():
            self._reconnect = asyncio.get_running_loop().create_task(self._reconnect_loop(conn))

    async def _reconnect_loop(self, dead: asyncpg.Connection) -> None:
        # Hand the dead connection back first: when it was borrowed from a caller's pool, the
        # pool slot would otherwise stay taken for good.
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await self._release(dead)
        attempt = 0
        while not self._closed and self._subscribers and not self.listening:
            delay = _RECONNECT_DELAYS[min(attempt, len(_RECONNECT_DELAYS) - 1)]
            await asyncio.sleep(delay)
            attempt += 1
            try:
                await self._ensure_listening()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.debug("taskcore postgres: listener reconnect failed: %s", type(exc).__name__)
                continue
            self._wake_all()

    async def aclose(self) -> None:
        """Stop listening and wake every waiter. Idempotent; the hub can subscribe again."""
        self._closed = True
        task, self._reconnect = self._reconnect, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._wake_all()
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    await conn.remove_listener(self._channel, self._on_notification)
                await self._release(conn)
