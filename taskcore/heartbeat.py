"""A worker's heartbeat: its pings, and its registration kept while it is alive.

A scheduler judges a worker dead by the age of its last ping and cleans it. A live worker can
still be cleaned (a stalled link, a skewed clock), so each beat also checks the registration and
registers the worker again when it is gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from taskcore import codec
from taskcore.clock import StorageClock
from taskcore.events import sleep_or_stop

if TYPE_CHECKING:
    from taskcore.worker import Worker

__all__ = ["heartbeat"]

logger = logging.getLogger("taskcore.worker")


async def heartbeat(
    worker: Worker, closed: asyncio.Event, on_reregistered: Callable[[], None]
) -> None:
    """Every ``worker.timeout`` seconds until ``closed`` is set: refresh a
    :class:`~taskcore.clock.StorageClock`, ping, and register ``worker`` again if a scheduler
    cleaned it meanwhile (then call ``on_reregistered``, log at WARNING and emit
    ``reregistered(now)``). Emits ``ping(seconds)`` after each beat; a storage error is emitted
    as ``error`` and the next beat tries again. Never raises for storage errors.
    """
    backend, clock = worker.backend, worker.clock
    while not await sleep_or_stop(clock, worker.timeout, closed):
        try:
            if isinstance(clock, StorageClock):
                await clock.refresh()
            now = clock.now()
            await backend.ping_worker(worker.worker_id, now)
            if await backend.worker_started(worker.worker_id) is None:
                await backend.register_worker(worker.worker_id, now)
                on_reregistered()
                logger.warning(
                    "worker %s was cleaned by a scheduler while alive (a stalled link or a "
                    "skewed clock?); registered it again",
                    worker.name,
                )
                worker.emit("reregistered", now)
        except Exception as exc:
            worker.emit("error", exc, None, None)
            continue
        worker.emit("ping", codec.js_round(now))
