"""How an idle worker waits: for a push, for the poll fallback, or for its stop.

A worker that found nothing waits on its :class:`~taskcore.backend.WakeUp` for at most
:func:`idle_seconds`, and returns at once when it is told to stop.
"""

from __future__ import annotations

import asyncio
import contextlib

from taskcore.backend import PollingWakeUp, WakeUp
from taskcore.events import until_stop

__all__ = ["idle_seconds", "wait_for_stop", "wait_idle"]


def idle_seconds(timeout: float, poll_interval: float | None, wake: WakeUp | None) -> float:
    """Seconds an idle worker waits for a wake-up before it looks at its queues again:
    ``timeout`` when ``wake`` sees every producer's pushes (or no ``poll_interval`` is set),
    else the shorter of ``poll_interval`` and ``timeout``."""
    if poll_interval is None or (wake is not None and wake.sees_foreign_pushes):
        return timeout
    return min(poll_interval, timeout)


async def wait_idle(wake: WakeUp, seconds: float, stop: asyncio.Event) -> None:
    """Wait for a push on ``wake``, at most ``seconds``, or until ``stop`` is set.

    The driver wake-ups (:class:`PollingWakeUp` and its subclasses) are awaited directly: the
    worker notifies them when it sets ``stop``. Another kind is raced against ``stop``.
    """
    if isinstance(wake, PollingWakeUp):
        if not stop.is_set():
            await wake.wait(seconds)
        return
    await until_stop(wake.wait(seconds), stop)


async def wait_for_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less when ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
