"""taskcore: background jobs for asyncio Python speaking the resque protocol.

See README.md for the quick start. The public API is re-exported here.
"""

from __future__ import annotations

from taskcore.app import App
from taskcore.backend import (
    Backend,
    Capabilities,
    CurrentJob,
    DelayedJob,
    Outcome,
    Reservation,
    WorkerId,
    WorkerPing,
)
from taskcore.clock import Clock, FakeClock, SystemClock
from taskcore.codec import Failure, Job
from taskcore.config import Settings
from taskcore.errors import (
    BackendError,
    BackendUnavailable,
    ConfigError,
    DriverNotFound,
    DuplicateJobError,
    InvalidArgument,
    JobNotFound,
    JobTimeout,
    MalformedPayload,
    TaskcoreError,
    UnknownJob,
    ValidationError,
)
from taskcore.events import EventEmitter
from taskcore.jobs import JobDefinition, Jobs
from taskcore.multiworker import MultiWorker
from taskcore.plugins import HookContext, Plugin
from taskcore.queue import Queue
from taskcore.registry import connect, register_driver
from taskcore.scheduler import Scheduler
from taskcore.tasks import Middleware, Task, TaskAPI, TaskRegistry
from taskcore.worker import Worker

__all__ = [
    "App",
    "Backend",
    "BackendError",
    "BackendUnavailable",
    "Capabilities",
    "Clock",
    "ConfigError",
    "CurrentJob",
    "DelayedJob",
    "DriverNotFound",
    "DuplicateJobError",
    "EventEmitter",
    "Failure",
    "FakeClock",
    "HookContext",
    "InvalidArgument",
    "Job",
    "JobDefinition",
    "JobNotFound",
    "JobTimeout",
    "Jobs",
    "MalformedPayload",
    "Middleware",
    "MultiWorker",
    "Outcome",
    "Plugin",
    "Queue",
    "Reservation",
    "Scheduler",
    "Settings",
    "SystemClock",
    "Task",
    "TaskAPI",
    "TaskRegistry",
    "TaskcoreError",
    "UnknownJob",
    "ValidationError",
    "Worker",
    "WorkerId",
    "WorkerPing",
    "connect",
    "register_driver",
]

__version__ = "0.1.0"
