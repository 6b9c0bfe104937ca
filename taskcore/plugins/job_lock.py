"""JobLock: never run two copies of the same job (class, queue, args) at the same time.

``before_perform`` takes the lock ``workerslock:<func>:<queue>:<args JSON>`` (TTL
``lock_timeout`` seconds). If another worker holds it the job is not run (no counter moves) and,
unless ``re_enqueue`` is False, it is scheduled again ``enqueue_timeout`` milliseconds later.
``after_perform`` releases the lock it took (never another worker's), after a success and after
a failure.

Options: ``lock_timeout`` (seconds, 3600), ``enqueue_timeout`` (milliseconds, 1001),
``re_enqueue`` (True), ``key`` (a lock name, or a callable ``key(plugin) -> str``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from taskcore import codec
from taskcore.errors import ConfigError
from taskcore.plugins.base import Plugin

__all__ = ["JobLock", "lock_key"]


def lock_key(plugin: Plugin, prefix: str) -> str:
    """The lock name for ``plugin``'s job: the ``key`` option (a string or a callable taking the
    plugin), else ``<prefix>:<func>:<queue>:<JSON of args>`` as node-resque builds it."""
    custom: str | Callable[[Plugin], Any] | None = plugin.options.get("key")
    if custom is None:
        return f"{prefix}:{plugin.func}:{plugin.queue}:{codec.dumps(plugin.args)}"
    name = custom(plugin) if callable(custom) else custom
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"{plugin.plugin_name()} option 'key' must be a non-empty string or a callable "
            f"returning one, got {name!r}"
        )
    return name


def lock_value(now: float, lock_timeout: int) -> str:
    """node-resque's lock value: the unix second after which the lock counts as stale."""
    return str(codec.js_round(now) + lock_timeout + 1)


def positive_seconds(plugin: Plugin, option: str) -> int:
    """Option ``option`` of ``plugin`` as whole seconds >= 1 (lock TTLs are whole seconds)."""
    value = plugin.options[option]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 1:
        raise ConfigError(
            f"{plugin.plugin_name()} option {option!r} is a duration in seconds >= 1, got {value!r}"
        )
    return int(value)


class JobLock(Plugin):
    """At most one running copy of a job across every worker (see the module docstring)."""

    defaults: ClassVar[dict[str, Any]] = {
        "lock_timeout": 3600,
        "enqueue_timeout": 1001,
        "re_enqueue": True,
        "key": None,
    }

    def _key(self) -> str:
        return lock_key(self, "workerslock")

    async def before_perform(self) -> bool:
        api = self.context.queue_api
        key = self._key()
        ttl = positive_seconds(self, "lock_timeout")
        value = lock_value(api.clock.now(), ttl)
        if await api.backend.acquire_lock(key, value, ttl):
            # after_perform gets a fresh plugin instance; the shared context carries the value
            # so it releases only the lock it took.
            self.context.extra[f"{self.plugin_name()}:lock"] = (key, value)
            return True
        if self.options["re_enqueue"] is not False:
            await api.enqueue_in(
                int(self.options["enqueue_timeout"]),
                self.queue,
                self.func,
                self.args,
                suppress_duplicate=True,
            )
        return False

    async def after_perform(self) -> bool:
        # Release only a lock this job took: when an earlier hook raised, before_perform never
        # ran and the lock (if any) belongs to a copy running elsewhere.
        held = self.context.extra.pop(f"{self.plugin_name()}:lock", None)
        if held is not None:
            key, value = held
            await self.context.queue_api.backend.release_lock(key, value)
        return True
