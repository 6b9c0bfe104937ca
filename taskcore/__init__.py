"""taskcore: background jobs for asyncio Python speaking the resque protocol.

See README.md for the quick start. The public API is re-exported here.
"""

from __future__ import annotations

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
from taskcore.errors import (
    BackendError,
    BackendUnavailable,
    ConfigError,
    DriverNotFound,
    DuplicateJobError,
    JobNotFound,
    MalformedPayload,
    TaskcoreError,
    UnknownJob,
    ValidationError,
)
from taskcore.registry import connect, register_driver

__all__ = [
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
    "FakeClock",
    "JobNotFound",
    "MalformedPayload",
    "Outcome",
    "Reservation",
    "SystemClock",
    "TaskcoreError",
    "UnknownJob",
    "ValidationError",
    "WorkerId",
    "WorkerPing",
    "connect",
    "register_driver",
]

__version__ = "0.1.0"
