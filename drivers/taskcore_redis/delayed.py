"""The delayed-job group of the Redis driver (protocol group 3), in node-resque 9's layout.

A delayed job is an entry of the list ``delayed:<ts>`` (``ts`` in unix seconds); the zset
``delayed_queue_schedule`` holds each second that has jobs (member = score = ``ts``), and the set
``timestamps:<payload>`` names every ``delayed:<ts>`` a payload is in. Every multi-key change is
one Lua script, so each method is atomic on its own. Mixed into
:class:`~taskcore_redis.backend.RedisBackend`.
"""

from __future__ import annotations

import math
from typing import Any

from taskcore.backend import DelayedJob
from taskcore_redis.access import RedisAccess, text
from taskcore_redis.errors import translate_errors
from taskcore_redis.records import read_integer

__all__ = ["DelayedMethods"]

_EVERY_SECOND = 2**31 - 1
"""A page size no schedule reaches: the whole schedule as one page."""


class DelayedMethods(RedisAccess):
    """Schedule, promote, list and remove delayed jobs (see :class:`taskcore.backend.Backend`)."""

    @translate_errors
    async def schedule(self, timestamp: int, queue: str, payload: str) -> bool:
        """node-resque's ``enqueueAt`` layout, atomically: RPUSH ``delayed:<ts>``, SADD
        ``timestamps:<payload>`` ``delayed:<ts>``, ZADD the schedule (member = score = ts).

        The queue is not stored apart: promotion reads it from the payload's ``queue`` field,
        as node-resque does, so ``payload`` must carry ``queue``.
        """
        ts = int(timestamp)
        member = self._keys.delayed_member(ts)
        scheduled = await self._scripts.schedule(
            keys=[
                self._keys.timestamps(payload),
                self._keys.delayed(ts),
                self._keys.delayed_schedule,
            ],
            args=[member, payload, ts],
        )
        return bool(scheduled)

    @translate_errors
    async def promote_due(self, now: float, limit: int = 1000) -> list[DelayedJob]:
        """One script moves up to ``limit`` due jobs and publishes once per queue touched.

        Due means stored second ``<= floor(now - 0.5)`` (never early, see
        :meth:`Backend.promote_due`). A schedule member that is not a whole number, or whose
        ``delayed:<ts>`` key is not a list, is passed over (left as is, not returned).

        An entry whose payload is not a JSON object with a non-empty ``queue`` string cannot be
        routed: it stays in its delayed list, in place, is not counted against ``limit`` and
        is not returned; its second keeps showing in :meth:`delayed_timestamps` until the
        entry is removed (:meth:`remove_delayed`). It never makes a caller loop.
        """
        if limit <= 0:
            return []
        flat = await self._scripts.promote_due(
            keys=[self._keys.delayed_schedule],
            args=[
                self._keys.prefix,
                math.floor(now - 0.5),
                limit,
                self._keys.pushed_channel,
                await self._publish_command(),
            ],
        )
        return [
            DelayedJob(int(text(flat[i])), text(flat[i + 1]), text(flat[i + 2]))
            for i in range(0, len(flat), 3)
        ]

    @translate_errors
    async def delayed_timestamps(self) -> list[int]:
        """Seconds from the schedule zset, numeric order, skipping ones with no jobs: the
        page script (``delayed_page.lua``) with no bound, one call."""
        return [int(text(ts)) for ts in await self._delayed_page(None, _EVERY_SECOND, False)]

    async def _delayed_page(self, after: int | None, limit: int, with_jobs: bool) -> list[Any]:
        if limit <= 0:
            return []
        flat: list[Any] = await self._scripts.delayed_page(
            keys=[self._keys.delayed_schedule],
            args=[
                self._keys.prefix,
                "-inf" if after is None else f"({int(after)}",
                int(limit),
                "1" if with_jobs else "0",
            ],
        )
        return flat

    @translate_errors
    async def delayed_timestamps_page(self, after: int | None, limit: int) -> list[int]:
        """One script: ZRANGEBYSCORE from ``(after`` with LIMIT, skipping empty seconds."""
        return [int(text(ts)) for ts in await self._delayed_page(after, limit, False)]

    @translate_errors
    async def delayed_page(self, after: int | None, limit: int) -> list[tuple[int, list[str]]]:
        """One script: the page's seconds and each one's LRANGE, at one instant."""
        flat = await self._delayed_page(after, limit, True)
        return [
            (int(text(flat[i])), [text(p) for p in flat[i + 1]]) for i in range(0, len(flat), 2)
        ]

    @translate_errors
    async def delayed_at(self, timestamp: int) -> list[str]:
        return [text(p) for p in await self._client.lrange(self._keys.delayed(timestamp), 0, -1)]

    @translate_errors
    async def scheduled_at(self, payload: str) -> list[int]:
        """SMEMBERS ``timestamps:<payload>``; each member is ``"delayed:<ts>"``. Members in
        another form (written by something else) are left out."""
        members = await self._client.smembers(self._keys.timestamps(payload))
        seconds = (read_integer(text(m).removeprefix("delayed:")) for m in members)
        return sorted(ts for ts in seconds if ts is not None)

    @translate_errors
    async def remove_delayed(self, payload: str) -> list[int]:
        """LREM the payload from each ``delayed:<ts>`` its ``timestamps:`` set names, deleting
        emptied lists and their zset members, then the ``timestamps:`` key: one script."""
        removed = await self._scripts.remove_delayed(
            keys=[self._keys.timestamps(payload), self._keys.delayed_schedule],
            args=[self._keys.prefix, payload],
        )
        return sorted(int(text(ts)) for ts in removed)

    @translate_errors
    async def remove_delayed_at(self, timestamp: int) -> list[str]:
        """LRANGE then DEL ``delayed:<ts>``, SREM the second from each payload's
        ``timestamps:`` set (deleting sets left empty), ZREM the schedule: one script."""
        ts = int(timestamp)
        removed = await self._scripts.remove_delayed_at(
            keys=[self._keys.delayed(ts), self._keys.delayed_schedule],
            args=[self._keys.prefix, self._keys.delayed_member(ts), ts],
        )
        return [text(p) for p in removed]
