"""The plugin API: hooks around enqueue and perform, and the runner that chains them.

A plugin is a class with up to four async hooks. Each returns True to continue or False to stop
the chain *and* the operation:

* ``before_enqueue`` False: nothing is written, ``Queue.enqueue`` returns False;
* ``after_enqueue``: runs after the write; False only stops later plugins' after_enqueue;
* ``before_perform`` False: the job is not run and counts neither as processed nor failed;
* ``after_perform``: runs after the job, on success *and* on failure (``self.error`` is set); a
  plugin may clear ``self.error`` (the job then counts as a success, e.g. Noop) or set
  ``self.context.failure_recorded = False`` (counted as failed, no failed-list entry: Retry).

An exception raised by a hook propagates: ``enqueue`` raises, or the job fails.

Plugins run in the order the job lists them. A fresh instance is built for every hook call with
a fresh, merged copy of its options (class ``defaults`` overlaid by the job's options), so no
state leaks between jobs. References are plugin classes or the names of the built-in plugins;
a name is never imported.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from taskcore.errors import ConfigError

if TYPE_CHECKING:
    from taskcore.jobs import JobDefinition
    from taskcore.queue import Queue
    from taskcore.worker import Worker

__all__ = ["HookContext", "HookName", "Plugin", "PluginRef", "resolve_plugin", "run_hooks"]

HookName = Literal["before_enqueue", "after_enqueue", "before_perform", "after_perform"]


@dataclass(slots=True)
class HookContext:
    """What the hooks of one enqueue or one perform share.

    ``func`` is the job's resque class name; ``args`` its argument list; ``job`` its definition;
    ``queue_api`` the :class:`~taskcore.queue.Queue` (for locks, enqueue_in, ...); ``worker`` the
    running worker for perform hooks (None for enqueue hooks and inline runs).
    Perform state: ``error`` (the exception the job raised, None on success), ``result``, and
    ``failure_recorded`` (False when a plugin has taken over the failure, as Retry does).
    """

    func: str
    queue: str
    args: list[Any]
    job: JobDefinition
    queue_api: Queue
    worker: Worker | None = None
    error: BaseException | None = None
    result: Any = None
    failure_recorded: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


class Plugin:
    """Base class of plugins; override the hooks you need (each defaults to True)."""

    name: ClassVar[str | None] = None
    """The options key; defaults to the class name."""

    defaults: ClassVar[Mapping[str, Any]] = {}
    """Option defaults, overlaid by the job's ``plugin_options[name]``."""

    def __init__(self, context: HookContext, options: Mapping[str, Any]) -> None:
        self.context = context
        self.options: dict[str, Any] = {**self.defaults, **options}

    @classmethod
    def plugin_name(cls) -> str:
        return cls.name or cls.__name__

    # conveniences mirroring node-resque's plugin fields
    @property
    def func(self) -> str:
        return self.context.func

    @property
    def queue(self) -> str:
        return self.context.queue

    @property
    def args(self) -> list[Any]:
        return self.context.args

    @property
    def error(self) -> BaseException | None:
        return self.context.error

    @error.setter
    def error(self, value: BaseException | None) -> None:
        self.context.error = value

    async def before_enqueue(self) -> bool:
        return True

    async def after_enqueue(self) -> bool:
        return True

    async def before_perform(self) -> bool:
        return True

    async def after_perform(self) -> bool:
        return True


PluginRef = type[Plugin] | str
"""A plugin class, or the name of a built-in plugin (JobLock, QueueLock, DelayQueueLock,
Retry, Noop)."""


@functools.cache
def _builtins() -> dict[str, type[Plugin]]:
    from taskcore.plugins.delay_queue_lock import DelayQueueLock
    from taskcore.plugins.job_lock import JobLock
    from taskcore.plugins.noop import Noop
    from taskcore.plugins.queue_lock import QueueLock
    from taskcore.plugins.retry import Retry

    return {p.plugin_name(): p for p in (JobLock, QueueLock, DelayQueueLock, Retry, Noop)}


def resolve_plugin(ref: PluginRef) -> type[Plugin]:
    """The plugin class for ``ref``; a string must name a built-in plugin."""
    if isinstance(ref, str):
        builtins = _builtins()
        if ref not in builtins:
            raise ConfigError(
                f"unknown plugin {ref!r}: built-in plugins are {', '.join(sorted(builtins))}; "
                "pass a Plugin subclass for anything else"
            )
        return builtins[ref]
    if inspect.isclass(ref) and issubclass(ref, Plugin):
        return ref
    raise ConfigError(f"a plugin must be a Plugin subclass or a built-in name, got {ref!r}")


async def run_hooks(hook: HookName, context: HookContext) -> bool:
    """Run ``hook`` of every plugin of ``context.job`` in order; False at the first False."""
    for ref in context.job.plugins:
        cls = resolve_plugin(ref)
        plugin = cls(context, context.job.options_for(cls.plugin_name()))
        outcome = getattr(plugin, hook)()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome is False:
            return False
    return True
