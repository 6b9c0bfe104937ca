"""One worker's step calls on a connection of its own (:meth:`RedisBackend.worker_channel`).

Through the client, every ``worker_step.lua`` call checks a connection out of the pool (with a
probe of its socket), goes through redis-py's retry wrapper (no retries are configured) and its
metrics hooks, and checks the connection back in. A worker makes that call once per job, always
from one task, never two at a time, so :class:`DedicatedStep` opens one connection of its own
for it (made by the pool, with the pool's settings, but not lent out by it: the pool's idle
connections stay free for the job's own storage calls) and sends ``EVALSHA`` (``EVAL`` when
the server lost the script) on it directly.

A call interrupted by anything but a reply (a broken connection, a cancellation) may leave a
reply unread on the connection: it is disconnected, and the next call connects again. The
error is raised (and translated by the backend); the worker reads back what storage did before
it retries.
"""

from __future__ import annotations

from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.commands.core import AsyncScript

__all__ = ["DedicatedStep"]


class DedicatedStep:
    """Calls ``script`` on one connection of its own, made by ``pool``."""

    def __init__(self, pool: ConnectionPool, script: AsyncScript) -> None:
        self._script = script
        self._conn: AbstractConnection = pool.make_connection()

    async def open(self) -> None:
        """Connect now, so an unreachable server fails the worker's start."""
        await self._conn.connect()

    async def __call__(self, keys: list[str], args: list[str | int]) -> Any:
        """The script's reply; raises redis-py's errors (``ResponseError`` for a script error,
        after which the connection stays usable)."""
        conn = self._conn
        try:
            try:
                await conn.send_command("EVALSHA", self._script.sha, len(keys), *keys, *args)
                return await conn.read_response()
            except redis_errors.NoScriptError:
                await conn.send_command("EVAL", self._script.script, len(keys), *keys, *args)
                return await conn.read_response()
        except redis_errors.ResponseError:
            raise  # a whole reply was read: the connection is in step
        except BaseException:
            await conn.disconnect(nowait=True)  # the next call connects again
            raise

    async def aclose(self) -> None:
        """Close the connection. Idempotent."""
        await self._conn.disconnect()
