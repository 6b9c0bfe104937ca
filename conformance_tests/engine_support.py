"""Helpers for the engine tests: record events and wait for them without sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from taskcore.clock import FakeClock
from taskcore.events import EventEmitter
from taskcore.worker import Worker

__all__ = ["WAIT", "EventLog", "run_until", "until_sleeping"]

WAIT = 10.0
"""Generous bound (seconds) for something that normally happens within milliseconds."""


class EventLog:
    """Every event an emitter emits, in order, with a way to await the next match."""

    def __init__(self, emitter: EventEmitter) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self._changed = asyncio.Event()
        emitter.on_any(self._record)

    def _record(self, event: str, *args: Any) -> None:
        self.events.append((event, args))
        self._changed.set()

    def names(self) -> list[str]:
        """The event names so far, in order."""
        return [name for name, _ in self.events]

    def args(self, event: str) -> list[tuple[Any, ...]]:
        """The arguments of every ``event`` so far."""
        return [args for name, args in self.events if name == event]

    async def wait_for(
        self,
        event: str,
        predicate: Callable[..., bool] = lambda *_: True,
        *,
        count: int = 1,
        timeout: float = WAIT,
    ) -> tuple[Any, ...]:
        """Wait until ``count`` ``event``s matching ``predicate(*args)`` were seen (past ones
        included); returns the arguments of the last of them."""

        async def watch() -> tuple[Any, ...]:
            while True:
                self._changed.clear()
                matches = [a for name, a in self.events if name == event and predicate(*a)]
                if len(matches) >= count:
                    return matches[count - 1]
                await self._changed.wait()

        return await asyncio.wait_for(watch(), timeout)


async def run_until(worker: Worker, successes: int = 1, *, idle: bool = False) -> EventLog:
    """Start ``worker``, wait for ``successes`` successful jobs (with ``idle``, then also for
    its ``pause``: no work left), end it whatever happened; returns its events."""
    log = EventLog(worker)
    await worker.start()
    try:
        await log.wait_for("success", count=successes)
        if idle:
            await log.wait_for("pause")
    finally:
        await worker.end()
    return log


async def until_sleeping(clock: FakeClock, sleepers: int = 1, timeout: float = WAIT) -> None:
    """Yield to the loop until ``sleepers`` coroutines are parked on ``clock``, so a following
    :meth:`~taskcore.clock.FakeClock.advance` is sure to wake them."""

    async def watch() -> None:
        # FakeClock offers no event for a new sleeper; yielding once per turn is the cheapest.
        while clock.sleepers < sleepers:  # noqa: ASYNC110
            await asyncio.sleep(0)

    await asyncio.wait_for(watch(), timeout)
