"""DelayQueueLock: refuse an immediate enqueue while the same job is scheduled for later.

``before_enqueue`` returns False (nothing written) when the identical payload (class, queue,
args) is in the delayed set at any time. It has no options and no other hooks.
"""

from __future__ import annotations

from taskcore import codec
from taskcore.plugins.base import Plugin

__all__ = ["DelayQueueLock"]


class DelayQueueLock(Plugin):
    """Blocks ``enqueue`` of a job that is already scheduled (see the module docstring)."""

    async def before_enqueue(self) -> bool:
        payload = codec.encode_job(self.func, self.queue, self.args)
        return not await self.context.queue_api.backend.scheduled_at(payload)
