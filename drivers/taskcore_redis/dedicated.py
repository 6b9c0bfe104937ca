"""One worker's step calls on a connection of its own (:meth:`RedisBackend.worker_channel`).

Through the client, every ``worker_step.lua`` call checks a connection out of the pool (with a
probe of its socket), goes through redis-py's retry wrapper (no retries are configured) and its
metrics hooks, and checks the connection back in. A worker makes that call once per job, always
from one task, never two at a time, so :class:`DedicatedStep` opens one connection of its own
for it (made by the pool, with the pool's settings, but not lent out by it: the pool's idle
connections stay free for the job's own storage calls) and sends ``EVALSHA`` (``EVAL`` when
the server lost the script) on it directly.

Two more per-call costs are cut: the command is framed by :func:`pack` from a memo of framed
arguments (a worker's keys, name, queues and the second's date repeat on every call; redis-py
encodes all ~20 of them each time), and the connection's ``socket_timeout`` is applied as one
:func:`asyncio.timeout` around the send and the reply instead of redis-py's ``wait_for`` (a
task per send on Python 3.11).

A call interrupted by anything but a reply (a broken connection, a cancellation) may leave a
reply unread on the connection: it is disconnected, and the next call connects again. The
error is raised (and translated by the backend); the worker reads back what storage did before
it retries.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.commands.core import AsyncScript

__all__ = ["DedicatedStep", "pack"]

_MEMO_MAX = 4096
"""Framed arguments remembered per worker (cleared when full: a wildcard worker's queue list
changes as queues come and go)."""

_MEMO_ITEM_MAX = 512
"""Longer arguments (failure records, each one of a kind) are framed but not remembered."""


def pack(items: list[bytes | str | int], encode: Any, memo: dict[Any, bytes]) -> bytes:
    """The RESP array of bulk strings for ``items`` (what redis-py's ``pack_command`` sends),
    ``encode`` turning one item into bytes as the connection's encoder does; short framed
    items are kept in ``memo``."""
    parts = [b"*%d\r\n" % len(items)]
    for item in items:
        framed = memo.get(item)
        if framed is None:
            raw = encode(item)
            framed = b"$%d\r\n%s\r\n" % (len(raw), raw)
            if len(raw) <= _MEMO_ITEM_MAX:
                if len(memo) >= _MEMO_MAX:
                    memo.clear()
                memo[item] = framed
        parts.append(framed)
    return b"".join(parts)


class DedicatedStep:
    """Calls ``script`` on one connection of its own, made by ``pool``."""

    def __init__(self, pool: ConnectionPool, script: AsyncScript) -> None:
        self._script = script
        conn: AbstractConnection = pool.make_connection()  # type: ignore[no-untyped-call]
        # Applied below around each call; left on the connection, redis-py would wrap every
        # send in asyncio.wait_for.
        self._timeout: float | None = conn.socket_timeout
        conn.socket_timeout = None
        self._conn = conn
        self._memo: dict[Any, bytes] = {}

    async def open(self) -> None:
        """Connect now, so an unreachable server fails the worker's start."""
        await self._conn.connect()  # type: ignore[no-untyped-call]  # untyped in redis-py

    async def _call(self, command: str, first: Any, keys: list[str], args: list[str | int]) -> Any:
        conn = self._conn
        packed = pack([command, first, len(keys), *keys, *args], conn.encoder.encode, self._memo)
        async with asyncio.timeout(self._timeout):
            await conn.send_packed_command(packed, check_health=False)
            return await conn.read_response()

    async def __call__(self, keys: list[str], args: list[str | int]) -> Any:
        """The script's reply; raises redis-py's errors (``ResponseError`` for a script error,
        after which the connection stays usable) and TimeoutError past the connection's
        ``socket_timeout``."""
        try:
            try:
                return await self._call("EVALSHA", self._script.sha, keys, args)
            except redis_errors.NoScriptError:
                return await self._call("EVAL", self._script.script, keys, args)
        except redis_errors.ResponseError:
            raise  # a whole reply was read: the connection is in step
        except BaseException:
            await self._conn.disconnect(nowait=True)  # the next call connects again
            raise

    async def aclose(self) -> None:
        """Close the connection. Idempotent."""
        await self._conn.disconnect()
