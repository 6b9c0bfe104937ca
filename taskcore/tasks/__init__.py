"""The task layer (Actionhero's): named tasks with validated inputs, middleware, periodic tasks.

::

    from taskcore.tasks import TaskRegistry

    tasks = TaskRegistry()

    @tasks.task(queue="mail")
    async def send_email(to: str, subject: str = "hi") -> None: ...

A task job is ``{"class": <task name>, "queue": q, "args": [inputs-object]}`` on the wire, so
Actionhero and taskcore enqueue and work each other's tasks.
"""

from __future__ import annotations

from taskcore.tasks.api import TaskAPI
from taskcore.tasks.discovery import DiscoveryError, define_task
from taskcore.tasks.middleware import DEFAULT_PRIORITY, Middleware, MiddlewarePlugin
from taskcore.tasks.registry import TaskPlugin, TaskRegistry, current_hook_context
from taskcore.tasks.task import FunctionTask, Task

__all__ = [
    "DEFAULT_PRIORITY",
    "DiscoveryError",
    "FunctionTask",
    "Middleware",
    "MiddlewarePlugin",
    "Task",
    "TaskAPI",
    "TaskPlugin",
    "TaskRegistry",
    "current_hook_context",
    "define_task",
]
