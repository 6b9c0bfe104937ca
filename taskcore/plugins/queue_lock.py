"""QueueLock: never hold two copies of the same job (class, queue, args) in a queue.

``before_enqueue`` takes the lock ``lock:<func>:<queue>:<args JSON>`` (TTL ``lock_timeout``
seconds, value = the unix second after which it is stale); while it is held an identical enqueue
returns False and writes nothing. A lock whose value is in the past (e.g. one left without a TTL)
is taken over. ``before_perform`` deletes the lock, so the lock lives while the job is queued and
the same job can be enqueued again as soon as a worker picks it up.

Options: ``lock_timeout`` (seconds, 3600), ``key`` (a lock name, or ``key(plugin) -> str``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from taskcore.plugins.base import Plugin
from taskcore.plugins.job_lock import lock_key, lock_value, positive_seconds

__all__ = ["QueueLock"]


class QueueLock(Plugin):
    """At most one queued copy of a job (see the module docstring)."""

    defaults: ClassVar[dict[str, Any]] = {"lock_timeout": 3600, "key": None}

    def _key(self) -> str:
        return lock_key(self, "lock")

    async def before_enqueue(self) -> bool:
        api = self.context.queue_api
        key = self._key()
        ttl = positive_seconds(self, "lock_timeout")
        now = api.clock.now()
        value = lock_value(now, ttl)
        if await api.backend.acquire_lock(key, value, ttl):
            return True
        held = await api.backend.get_lock(key)
        if held is None:
            # expired between the two calls: one more atomic attempt decides
            return await api.backend.acquire_lock(key, value, ttl)
        try:
            stale_after = float(held)
        except ValueError:
            stale_after = float("-inf")
        if now <= stale_after:
            return False
        # Take over the stale lock atomically: only the enqueuer whose release still sees the
        # stale value frees it, and the NX acquire lets exactly one concurrent enqueuer win.
        await api.backend.release_lock(key, held)
        return await api.backend.acquire_lock(key, value, ttl)

    async def before_perform(self) -> bool:
        await self.context.queue_api.backend.release_lock(self._key())
        return True
