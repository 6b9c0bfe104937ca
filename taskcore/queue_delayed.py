"""Delayed jobs of the Queue API: list, page through, look up and unschedule them.

A mixin of :class:`~taskcore.queue.Queue` (import that). Units: ``timestamps``,
``timestamps_page``, ``delayed_page`` and ``all_delayed`` key by unix **milliseconds**, as
node-resque does; ``scheduled_at`` and ``del_delayed`` return whole unix **seconds**, as resque
stores them. Scheduling is :meth:`~taskcore.queue.Queue.enqueue_at` /
:meth:`~taskcore.queue.Queue.enqueue_in`.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from taskcore import codec
from taskcore.arguments import check_timestamp_ms
from taskcore.errors import InvalidArgument
from taskcore.malformed import read_job
from taskcore.queue_base import QueueBase

__all__ = ["DelayedJobsMixin"]

_DELAYED_BATCH = 1000
"""Timestamps read per round trip by the full listings (``timestamps``, ``all_delayed``)."""


class DelayedJobsMixin(QueueBase):
    """The delayed-job calls of :class:`~taskcore.queue.Queue`."""

    async def del_delayed(self, queue: str, func: str, args: Any = None) -> list[int]:
        """Unschedule the job everywhere; returns the **seconds** it was scheduled at."""
        return await self.backend.remove_delayed(codec.encode_job(func, queue, args))

    async def scheduled_at(self, queue: str, func: str, args: Any = None) -> list[int]:
        """The **seconds** at which the job is scheduled, ascending (empty if none)."""
        return await self.backend.scheduled_at(codec.encode_job(func, queue, args))

    async def timestamps_page(self, after: float | None = None, limit: int = 100) -> list[int]:
        """Up to ``limit`` timestamps holding delayed jobs, in **milliseconds**, ascending,
        each later than ``after`` (ms; None: from the first). Page on by passing the last
        one returned: the cost of a page follows ``limit``, not the number of delayed jobs."""
        return [
            ts * 1000
            for ts in await self.backend.delayed_timestamps_page(
                _after_seconds(after), _page_limit(limit)
            )
        ]

    async def delayed_page(
        self, after: float | None = None, limit: int = 100
    ) -> dict[int, list[codec.Job]]:
        """The delayed jobs of up to ``limit`` timestamps later than ``after`` (ms; None: from
        the first), by timestamp in **milliseconds**, ascending, scheduling order kept; one
        atomic read whose cost follows the page, not the number of delayed jobs. A payload
        that is not a resque job is a :class:`~taskcore.malformed.MalformedJob`."""
        page = await self.backend.delayed_page(_after_seconds(after), _page_limit(limit))
        return {ts * 1000: [read_job(p) for p in payloads] for ts, payloads in page}

    async def timestamps(self, after: float | None = None, limit: int | None = None) -> list[int]:
        """Timestamps holding delayed jobs, in **milliseconds**, ascending numerically
        (node-resque sorts them as strings), each later than ``after`` (ms; None: from the
        first).

        With ``limit``: one page, as :meth:`timestamps_page` (its cost follows ``limit``, not
        the number of delayed jobs). Without: every one, read in pages of 1,000 (a round trip
        each, each as cheap at 500k delayed jobs as at 10): linear in the number of
        timestamps, as any full listing, and not one atomic snapshot.
        """
        if limit is not None:
            return await self.timestamps_page(after, limit)
        stamps: list[int] = []
        cursor = _after_seconds(after)
        while True:
            page = await self.backend.delayed_timestamps_page(cursor, _DELAYED_BATCH)
            stamps += (ts * 1000 for ts in page)
            if len(page) < _DELAYED_BATCH:
                return stamps
            cursor = page[-1]

    async def delayed_count(self) -> int:
        """How many delayed jobs there are, read in pages of 1,000 timestamps
        (:meth:`~taskcore.backend.Backend.delayed_page`, a round trip each, not one per
        timestamp): not one atomic snapshot."""
        count = 0
        after: int | None = None
        while True:
            page = await self.backend.delayed_page(after, _DELAYED_BATCH)
            count += sum(len(payloads) for _, payloads in page)
            if len(page) < _DELAYED_BATCH:
                return count
            after = page[-1][0]

    async def delayed_at(self, timestamp_ms: float) -> tuple[list[codec.Job], int]:
        """The jobs scheduled at the second ``timestamp_ms`` rounds to, and that second
        (a payload that is not a resque job as a :class:`~taskcore.malformed.MalformedJob`)."""
        seconds = codec.ms_to_seconds(check_timestamp_ms(timestamp_ms, "timestamp_ms"))
        payloads = await self.backend.delayed_at(seconds)
        return [read_job(p) for p in payloads], seconds

    async def del_delayed_at(self, timestamp_ms: float | datetime) -> list[codec.Job]:
        """Unschedule every job at the second ``timestamp_ms`` (unix **milliseconds**, as
        :meth:`timestamps` lists them, or an aware datetime) rounds to, in one atomic step;
        returns the jobs removed, in scheduling order (a payload that is not a resque job as
        a :class:`~taskcore.malformed.MalformedJob`). Stellar's "remove all tasks at a
        timestamp"; the timestamp then vanishes from :meth:`timestamps`."""
        seconds = codec.ms_to_seconds(check_timestamp_ms(timestamp_ms, "timestamp_ms"))
        return [read_job(p) for p in await self.backend.remove_delayed_at(seconds)]

    async def all_delayed(self) -> dict[int, list[codec.Job]]:
        """Every delayed job by timestamp in **milliseconds**, ascending, scheduling order kept.

        Read in pages of 1,000 timestamps (:meth:`delayed_page`), one round trip each: not one
        atomic snapshot, so a timestamp promoted while this runs may be left out. A payload
        that is not a resque job is a :class:`~taskcore.malformed.MalformedJob`.
        """
        result: dict[int, list[codec.Job]] = {}
        after: int | None = None
        while True:
            page = await self.backend.delayed_page(after, _DELAYED_BATCH)
            for ts, payloads in page:
                result[ts * 1000] = [read_job(p) for p in payloads]
            if len(page) < _DELAYED_BATCH:
                return result
            after = page[-1][0]


def _after_seconds(after_ms: float | None) -> int | None:
    """A page cursor in ms as the whole second after which the next page starts."""
    if after_ms is None:
        return None
    return math.floor(check_timestamp_ms(after_ms, "after") / 1000)


def _page_limit(limit: Any) -> int:
    """A page size: an int >= 1."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidArgument(f"limit: expected an int >= 1 (a page size), got {limit!r}")
    return limit
