"""Wake-ups: how an idle worker waits for pushes to its queues.

:meth:`~taskcore.backend.Backend.wake_up` returns one. :class:`WakeUp` is the interface;
:class:`PollingWakeUp` the fallback that sleeps its timeout (cut short by an in-process
:meth:`~PollingWakeUp.notify`); :class:`QueueWakeUp` the watcher a driver's listener (Redis
pub/sub, PostgreSQL LISTEN) feeds. Import them from :mod:`taskcore.backend`, which re-exports
every one. Timeouts are in **seconds**.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Iterable

__all__ = ["PollingWakeUp", "QueueWakeUp", "WakeUp"]


class WakeUp(abc.ABC):
    """Waits for pushes to a set of queues; returned by :meth:`~taskcore.backend.Backend.wake_up`.

    Usage per idle cycle: :meth:`arm`, then try to reserve, then, if nothing was reserved,
    :meth:`wait`. A push that lands after :meth:`arm` makes :meth:`wait` return at once, so no
    push between the reserve attempt and the wait is missed.
    """

    sees_foreign_pushes: bool = False
    """True when pushes made outside taskcore (node-resque, resque, a raw ``RPUSH``) wake it
    too, e.g. through Redis keyspace notifications. Otherwise only taskcore's own pushes do,
    and a worker finds other producers' jobs by polling (its ``poll_interval``)."""

    @abc.abstractmethod
    def arm(self) -> None:
        """Forget earlier notifications; later pushes to the watched queues are remembered."""

    @abc.abstractmethod
    async def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True if a watched queue was pushed to since arm()."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Stop listening. Idempotent."""


class PollingWakeUp(WakeUp):
    """The fallback for drivers without notifications: :meth:`wait` sleeps the full timeout.

    :meth:`notify` lets an in-process producer cut the wait short (used by the memory driver and
    by tests).
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def arm(self) -> None:
        self._event.clear()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):  # no task per wait, unlike wait_for on 3.11
                await self._event.wait()
        except TimeoutError:
            return False
        return True

    async def aclose(self) -> None:
        self._event.set()


class QueueWakeUp(PollingWakeUp):
    """A :class:`WakeUp` for a set of queues, fed by a driver's listener.

    Drivers with ``Capabilities.enqueue_notifications`` keep one listener per backend (Redis
    pub/sub, PostgreSQL LISTEN) and call :meth:`notify` with the queue each push names, or with
    None when pushes may have been missed (a dropped connection): then every watcher wakes.
    ``on_close`` lets the listener forget the watcher.
    """

    def __init__(self, queues: Iterable[str], on_close: Callable[[QueueWakeUp], None]) -> None:
        super().__init__()
        self.queues = frozenset(queues)
        self._on_close = on_close
        self._closed = False

    def wants(self, queue: str) -> bool:
        """True if a push to ``queue`` concerns this watcher (an empty set watches all)."""
        return not self.queues or queue in self.queues

    def notify(self, queue: str | None = None) -> None:
        if queue is None or self.wants(queue):
            super().notify()

    def arm(self) -> None:
        if not self._closed:
            super().arm()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._on_close(self)
        await super().aclose()
