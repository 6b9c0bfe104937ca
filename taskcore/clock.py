"""Time, injected: the worker and scheduler read ``now`` and sleep through a :class:`Clock`.

:class:`SystemClock` is the real one. :class:`FakeClock` lets tests move time by hand: its
:meth:`~FakeClock.sleep` returns only when :meth:`~FakeClock.advance` passes the deadline, so an
end-to-end test of delayed jobs or stuck workers never waits on the wall clock.

:class:`StorageClock` is the system clock corrected to the storage server's clock: processes on
machines whose clocks disagree still agree on heartbeat ages and due times, because each one
reads time as the server tells it (measured, then applied as an offset, so ``now()`` stays a
cheap local call).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from taskcore.errors import TaskcoreError

if TYPE_CHECKING:
    from taskcore.backend import Backend

__all__ = ["Clock", "FakeClock", "StorageClock", "SystemClock"]

logger = logging.getLogger("taskcore.clock")


@runtime_checkable
class Clock(Protocol):
    """A source of unix time in seconds and a way to wait for it to pass."""

    def now(self) -> float:
        """Unix time in seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait until ``now()`` has advanced by ``seconds``."""
        ...


class SystemClock:
    """The wall clock and :func:`asyncio.sleep`."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves only when told to.

    ``sleep(s)`` parks the caller until :meth:`advance` moves time to at least ``now + s``.
    ``sleep(0)`` yields to the loop once and returns.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        await fut

    @property
    def sleepers(self) -> int:
        """How many coroutines are parked in :meth:`sleep`."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def advance(self, seconds: float | timedelta) -> None:
        """Move time forward by ``seconds`` (a number of seconds or a timedelta) and wake every
        sleeper whose deadline has passed."""
        step = seconds.total_seconds() if isinstance(seconds, timedelta) else seconds
        if step < 0:
            raise ValueError(
                f"a FakeClock cannot go backwards (advance by {seconds!r}): pass a duration >= 0"
            )
        self._now += step
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)


class StorageClock:
    """``base`` (the system clock by default) shifted by its offset from the storage server.

    :meth:`sync` measures the offset with one :meth:`~taskcore.backend.Backend.server_time` call
    (server time minus the midpoint of the local times around the call); :meth:`now` is then
    ``base.now() + offset``. :meth:`refresh` re-measures when the last measure is older than
    ``resync_every`` seconds and keeps the old offset when storage cannot be reached, so callers
    may call it on every cycle. Until the first successful sync the offset is 0 (local time).
    """

    def __init__(
        self, backend: Backend, base: Clock | None = None, *, resync_every: float = 60.0
    ) -> None:
        self.backend = backend
        self.base: Clock = base or SystemClock()
        self.resync_every = resync_every
        self._offset = 0.0
        self._synced_at: float | None = None

    @property
    def offset(self) -> float:
        """Seconds to add to the local clock to read the server's (positive: local is behind)."""
        return self._offset

    @property
    def synced(self) -> bool:
        """True once an offset has been measured."""
        return self._synced_at is not None

    def now(self) -> float:
        return self.base.now() + self._offset

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(seconds)

    async def sync(self) -> float:
        """Measure the offset now; returns it. Storage errors propagate."""
        before = self.base.now()
        server = await self.backend.server_time()
        after = self.base.now()
        self._offset = server - (before + after) / 2
        self._synced_at = after
        return self._offset

    async def refresh(self) -> None:
        """:meth:`sync` when never synced or older than ``resync_every`` s; never raises for
        storage errors (the previous offset stays in force and the error is logged at DEBUG)."""
        if self._synced_at is not None and self.base.now() - self._synced_at < self.resync_every:
            return
        try:
            await self.sync()
        except TaskcoreError as exc:
            logger.debug("could not read the storage server's clock: %s", exc)
