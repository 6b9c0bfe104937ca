"""The task registry: named tasks, global middleware, and the resque job definitions they make.

Workers take :attr:`TaskRegistry.jobs`, a live mapping of task name -> JobDefinition rebuilt
whenever a task or middleware is added (Actionhero's ``loadTasks(true)``), so middleware added
after start applies to the next job.

A task's job definition runs, in order (Actionhero's ``jobWrapper``, spec 7.3):

1. the task's own context plugin (gives ``run`` its worker; re-schedules periodic tasks);
2. ``task.plugins``;
3. for a periodic task, JobLock (``re_enqueue=False``), QueueLock and DelayQueueLock if absent;
4. one plugin per global middleware, by priority ascending;
5. one plugin per task middleware, in the task's order.
"""

from __future__ import annotations

import contextvars
import difflib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, ParamSpec, TypeVar, Unpack

from taskcore.arguments import check_name
from taskcore.errors import ConfigError, UnknownJob
from taskcore.jobs import JobDefinition
from taskcore.plugins.base import HookContext, Plugin, PluginRef, resolve_plugin
from taskcore.tasks.discovery import define_task, discover
from taskcore.tasks.inputs import decode_inputs
from taskcore.tasks.middleware import Middleware, MiddlewarePlugin
from taskcore.tasks.periodic import enqueue_recurrent_task
from taskcore.tasks.scope import fan_out, is_node_queue
from taskcore.tasks.task import FunctionTask, Task, TaskOptions

if TYPE_CHECKING:
    from taskcore.worker import Worker

__all__ = ["TaskRegistry", "current_hook_context"]

P = ParamSpec("P")
R = TypeVar("R")

current_hook_context: contextvars.ContextVar[HookContext | None] = contextvars.ContextVar(
    "taskcore_task_hook_context", default=None
)
"""The perform hooks' context of the task job running in this asyncio task (None outside one)."""

_PERIODIC_PLUGINS = ("JobLock", "QueueLock", "DelayQueueLock")


class TaskPlugin(Plugin):
    """Runs first for every task job: hands the worker to ``run``, re-schedules periodic runs."""

    task: ClassVar[Task]

    @classmethod
    def for_task(cls, task: Task) -> type[TaskPlugin]:
        """A new subclass bound to ``task``, named ``task:<name>``."""
        attrs: dict[str, Any] = {"task": task, "name": f"task:{task.name}"}
        return type(f"TaskPlugin_{task.name}", (cls,), attrs)

    async def before_perform(self) -> bool:
        current_hook_context.set(self.context)
        return True

    async def after_perform(self) -> bool:
        current_hook_context.set(None)
        task = self.task
        if (
            task.is_periodic
            and not is_node_queue(self.context.queue)  # a scope "all" copy: the trigger did
            and (self.context.error is None or task.re_enqueue_periodic_task_if_exception)
        ):
            await enqueue_recurrent_task(self.context.queue_api, task)
        return True


class _JobsView(Mapping[str, JobDefinition]):
    """The registry's tasks as resque job definitions, rebuilt after every registry change."""

    def __init__(self, registry: TaskRegistry) -> None:
        self._registry = registry

    def __getitem__(self, name: str) -> JobDefinition:
        return self._registry._definitions()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry._definitions())

    def __len__(self) -> int:
        return len(self._registry._definitions())


class TaskRegistry:
    """Named tasks and global middleware; the source of a worker's job definitions.

    ::

        tasks = TaskRegistry()

        @tasks.task(queue="mail", plugins=["Retry"], plugin_options={"Retry": {"retry_limit": 3}})
        async def send_email(to: str, subject: str = "hi") -> None: ...

        tasks.add(SendReport())                       # the class form
        tasks.add_middleware(Middleware("audit", is_global=True, pre_enqueue=...))
    """

    def __init__(
        self, tasks: Sequence[Task] = (), *, middleware: Sequence[Middleware] = ()
    ) -> None:
        self._tasks: dict[str, Task] = {}
        self._middleware: dict[str, Middleware] = {}
        self._global: list[Middleware] = []
        self._cache: dict[str, JobDefinition] | None = None
        for mw in middleware:
            self.add_middleware(mw)
        for task in tasks:
            self.add(task)

    # ---------------------------------------------------------------- registration

    def add(self, task: Task) -> Task:
        """Register ``task`` under ``task.name`` (replacing a task of that name); returns it."""
        if not isinstance(task, Task):
            raise ConfigError(f"expected a Task instance, got {task!r}")
        for ref in task.middleware:
            self._resolve_middleware(ref, task.name)
        self._tasks[task.name] = task
        self._cache = None
        return task

    def task(
        self, name: str | None = None, **options: Unpack[TaskOptions]
    ) -> Callable[[Callable[P, R]], FunctionTask[P, R]]:
        """Decorator registering a function as a task (name defaults to the function's).

        The options are :class:`~taskcore.tasks.task.TaskOptions` (:class:`Task` fields):
        ``frequency`` and ``timeout`` are in SECONDS (or timedeltas); ``inputs`` is a pydantic
        model or Actionhero's declarative dict (default: the function's signature).
        """
        build = define_task(name, **options)

        def decorate(fn: Callable[P, R]) -> FunctionTask[P, R]:
            built = build(fn)
            # Registered here under the function's own name: discovery never renames it.
            object.__setattr__(built, "named_by_file", False)
            self.add(built)
            return built

        return decorate

    def discover(self, *paths_or_packages: str | os.PathLike[str]) -> TaskRegistry:
        """Register the tasks of folders, ``.py`` files or packages (Actionhero's ``./tasks/``);
        returns the registry. Subfolders give dotted names (``tasks/auth/session.py`` ->
        ``auth.session``) unless a task names itself; a duplicate name or a module that fails
        to import is a :class:`~taskcore.tasks.discovery.DiscoveryError`, and then nothing is
        registered. See :mod:`taskcore.tasks.discovery`."""
        discover(self, *paths_or_packages)
        return self

    def add_middleware(self, middleware: Middleware) -> Middleware:
        """Register ``middleware``: global middleware then applies to every task; other
        middleware becomes available to tasks by name. Names are unique."""
        if not isinstance(middleware, Middleware):
            raise ConfigError(f"expected a Middleware, got {middleware!r}")
        if middleware.name in self._middleware:
            raise ConfigError(f"a middleware named {middleware.name!r} is already registered")
        self._middleware[middleware.name] = middleware
        if middleware.is_global:
            self._global.append(middleware)
            self._global.sort(key=lambda m: m.priority)  # stable: ties keep registration order
        self._cache = None
        return middleware

    def _resolve_middleware(self, ref: Middleware | str, task_name: str) -> Middleware:
        if isinstance(ref, Middleware):
            return ref
        found = self._middleware.get(ref)
        if found is None:
            raise ConfigError(
                f"task {task_name!r} names middleware {ref!r}, which is not registered; "
                "add it with TaskRegistry.add_middleware first or pass the Middleware object"
            )
        return found

    # ---------------------------------------------------------------- lookup

    def get(self, name: str) -> Task:
        """The task called ``name``.

        :class:`~taskcore.errors.InvalidArgument` when ``name`` is not a non-empty string;
        :class:`UnknownJob` when no task has that name (the message names close matches).
        """
        check_name(name, "name")
        task = self._tasks.get(name)
        if task is None:
            raise UnknownJob(f"no task named {name!r} is registered ({self.describe_known(name)})")
        return task

    def close_names(self, name: str, limit: int = 3) -> list[str]:
        """Up to ``limit`` registered task names that look like ``name`` (typo suggestions)."""
        return difflib.get_close_matches(name, list(self._tasks), n=limit, cutoff=0.6)

    def describe_known(self, name: str) -> str:
        """``"did you mean: a, b; known: ..."`` for an unknown ``name``: close matches first,
        then the registered names (the first 10, sorted), for one-line error messages."""
        known = sorted(self._tasks)
        listed = ", ".join(known[:10]) + (f", ... ({len(known)} in all)" if len(known) > 10 else "")
        close = self.close_names(name)
        hint = f"did you mean: {', '.join(close)}; " if close else ""
        return f"{hint}known: {listed or 'none'}"

    def tasks(self) -> list[Task]:
        """Every registered task, in registration order."""
        return list(self._tasks.values())

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def global_middleware(self) -> list[Middleware]:
        """Global middleware in the order it runs (priority ascending)."""
        return list(self._global)

    # ---------------------------------------------------------------- job definitions

    @property
    def jobs(self) -> Mapping[str, JobDefinition]:
        """A live mapping of task name -> JobDefinition: give it to Worker/MultiWorker/Queue."""
        return _JobsView(self)

    def _definitions(self) -> dict[str, JobDefinition]:
        if self._cache is None:
            self._cache = {name: self._definition(task) for name, task in self._tasks.items()}
        return self._cache

    def _definition(self, task: Task) -> JobDefinition:
        plugins: list[PluginRef] = [TaskPlugin.for_task(task), *task.plugins]
        options: dict[str, Mapping[str, Any]] = dict(task.plugin_options)
        if task.is_periodic:
            present = {resolve_plugin(ref).plugin_name() for ref in plugins}
            plugins.extend(p for p in _PERIODIC_PLUGINS if p not in present)
            options["JobLock"] = {**options.get("JobLock", {}), "re_enqueue": False}
        for mw in self._global:
            plugins.append(MiddlewarePlugin.for_middleware(mw))
        for ref in task.middleware:
            plugins.append(
                MiddlewarePlugin.for_middleware(self._resolve_middleware(ref, task.name))
            )

        async def perform(*args: Any) -> Any:
            context = current_hook_context.get()
            worker: Worker | None = None
            if context is not None and context.func == task.name:
                worker = context.worker
                if task.scope == "all" and not is_node_queue(context.queue):
                    # a trigger: every live node runs a copy (taskcore.tasks.scope)
                    return await fan_out(context.queue_api, task, list(args))
            return await task.perform(decode_inputs(args, task.name), worker)

        perform.__qualname__ = perform.__name__ = f"task_{task.name}"
        return JobDefinition(perform, tuple(plugins), options, task.timeout_seconds)
