"""The driver's Lua scripts (``scripts/*.lua``, one file per script), registered on a client.

Sources are read with :mod:`importlib.resources`, so they work from a wheel as from a checkout.
``register_script`` calls them with EVALSHA and falls back to EVAL (loading the script) when the
server does not know it yet, e.g. after a restart or ``SCRIPT FLUSH``.
"""

from __future__ import annotations

import functools
from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

__all__ = ["Scripts", "script_source"]


@functools.cache
def script_source(name: str) -> str:
    """The text of ``scripts/<name>.lua``."""
    return (resources.files("taskcore_redis") / "scripts" / f"{name}.lua").read_text("utf-8")


class Scripts:
    """Every script of the driver, bound to one client."""

    def __init__(self, client: Redis) -> None:
        def load(name: str) -> AsyncScript:
            return client.register_script(script_source(name))

        self.worker_step = load("worker_step")
        self.push = load("push")
        self.push_many = load("push_many")
        self.schedule = load("schedule")
        self.promote_due = load("promote_due")
        self.delayed_page = load("delayed_page")
        self.remove_delayed = load("remove_delayed")
        self.remove_delayed_at = load("remove_delayed_at")
        self.current_jobs = load("current_jobs")
        self.registered_pings = load("registered_pings")
        self.renew_lock = load("renew_lock")
        self.release_lock = load("release_lock")
        self.increment_lock = load("increment_lock")
        self.retry_failure = load("retry_failure")
        self.failures_after = load("failures_after")
        self.queues_with_jobs = load("queues_with_jobs")
