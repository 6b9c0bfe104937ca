"""Task middleware (Actionhero's), mapped onto resque plugin hooks.

A :class:`Middleware` has up to four hooks; each becomes the plugin hook of the same moment:

==================  ==================  ===================================================
middleware hook     plugin hook         a return of False ...
==================  ==================  ===================================================
``pre_enqueue``     ``before_enqueue``  ... blocks the enqueue (``enqueue`` returns False)
``post_enqueue``    ``after_enqueue``   ... stops later plugins' after_enqueue
``pre_processor``   ``before_perform``  ... skips the job (no counter moves) [*]_
``post_processor``  ``after_perform``   ... stops later plugins' after_perform
==================  ==================  ===================================================

.. [*] The ``after_perform`` hooks of the plugins before the middleware still run (their
   ``before_perform`` ran): JobLock releases its lock and a periodic task schedules its next run.

Any other return (None included) continues. A hook receives the :class:`~taskcore.plugins.Plugin`
instance running it, so it can read ``plugin.func``, ``plugin.queue``, ``plugin.args``,
``plugin.context.worker`` and read or clear ``plugin.error`` in ``post_processor``. Hooks may be
sync or async. An exception in ``pre_enqueue`` makes ``enqueue`` raise; in ``pre_processor`` it
fails the job.

Global middleware applies to every task, ordered by ``priority`` ascending (ties keep the order
of registration); per-task middleware follows it, in the order the task lists it. For each
middleware :func:`middleware_plugin` builds one Plugin subclass explicitly (no metaclass, no
registration side effects).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from taskcore.errors import ConfigError
from taskcore.plugins.base import Plugin, resolve_plugin

__all__ = ["DEFAULT_PRIORITY", "Middleware", "MiddlewareHook", "MiddlewarePlugin"]

DEFAULT_PRIORITY = 100
"""Actionhero's ``defaultMiddlewarePriority``."""

MiddlewareHook = Callable[[Plugin], Awaitable[bool | None] | bool | None]


class Middleware:
    """Named hooks around enqueue and perform; pass functions or subclass and override.

    ``is_global`` middleware is added to every task by :meth:`TaskRegistry.add_middleware`;
    other middleware is referenced by a task's ``middleware`` list (by object or by name).
    """

    def __init__(
        self,
        name: str,
        *,
        is_global: bool = False,
        priority: int = DEFAULT_PRIORITY,
        pre_enqueue: MiddlewareHook | None = None,
        post_enqueue: MiddlewareHook | None = None,
        pre_processor: MiddlewareHook | None = None,
        post_processor: MiddlewareHook | None = None,
    ) -> None:
        if not name:
            raise ConfigError("a middleware needs a non-empty name")
        self.name = name
        self.is_global = is_global
        self.priority = int(priority)
        self._hooks: dict[str, MiddlewareHook | None] = {
            "pre_enqueue": pre_enqueue,
            "post_enqueue": post_enqueue,
            "pre_processor": pre_processor,
            "post_processor": post_processor,
        }

    def __repr__(self) -> str:
        return f"Middleware({self.name!r}, is_global={self.is_global}, priority={self.priority})"

    async def _call(self, hook: str, plugin: Plugin) -> bool:
        fn = self._hooks[hook]
        if fn is None:
            return True
        outcome = fn(plugin)
        if inspect.isawaitable(outcome):
            outcome = await outcome
        return outcome is not False

    async def pre_enqueue(self, plugin: Plugin) -> bool:
        """Before the job is written; False blocks the enqueue."""
        return await self._call("pre_enqueue", plugin)

    async def post_enqueue(self, plugin: Plugin) -> bool:
        """After the job is written."""
        return await self._call("post_enqueue", plugin)

    async def pre_processor(self, plugin: Plugin) -> bool:
        """Before the task runs on a worker; False skips the job."""
        return await self._call("pre_processor", plugin)

    async def post_processor(self, plugin: Plugin) -> bool:
        """After the task ran, on success and failure (``plugin.error`` is set on failure)."""
        return await self._call("post_processor", plugin)


class MiddlewarePlugin(Plugin):
    """The plugin that runs one :class:`Middleware`; see :func:`MiddlewarePlugin.for_middleware`."""

    middleware: ClassVar[Middleware]

    @classmethod
    def for_middleware(cls, middleware: Middleware) -> type[MiddlewarePlugin]:
        """A new subclass bound to ``middleware``, named ``middleware:<name>`` for options."""
        attrs: dict[str, Any] = {"middleware": middleware, "name": f"middleware:{middleware.name}"}
        return type(f"Middleware_{middleware.name}", (cls,), attrs)

    async def before_enqueue(self) -> bool:
        return await self.middleware.pre_enqueue(self)

    async def after_enqueue(self) -> bool:
        return await self.middleware.post_enqueue(self)

    async def before_perform(self) -> bool:
        if await self.middleware.pre_processor(self):
            return True
        await self._unwind()
        return False

    async def _unwind(self) -> None:
        """Run ``after_perform`` of the plugins before this one, as after a success.

        Their ``before_perform`` already ran and may have taken something only their
        ``after_perform`` gives back: a skip must not leave JobLock's lock held for its TTL nor
        end a periodic task (the task's plugin schedules its next run there).
        """
        plugins = self.context.job.plugins
        mine = next((i for i, ref in enumerate(plugins) if ref is type(self)), 0)
        for ref in plugins[:mine]:
            cls = resolve_plugin(ref)
            plugin = cls(self.context, self.context.job.options_for(cls.plugin_name()))
            outcome: Any = plugin.after_perform()  # a user plugin may define a sync hook
            if inspect.isawaitable(outcome):
                outcome = await outcome
            if outcome is False:
                return

    async def after_perform(self) -> bool:
        return await self.middleware.post_processor(self)
