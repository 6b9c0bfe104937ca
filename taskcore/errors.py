"""The one error hierarchy of taskcore.

Drivers translate their native errors (redis, asyncpg, ...) into these at the seam, so callers
catch ``taskcore`` errors whatever the storage. Every message says what happened and what to do.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "ConfigError",
    "DriverNotFound",
    "DuplicateJobError",
    "InvalidArgument",
    "JobNotFound",
    "JobTimeout",
    "MalformedPayload",
    "TaskcoreError",
    "UnknownJob",
    "ValidationError",
]


class TaskcoreError(Exception):
    """Base class of every error taskcore raises on purpose."""


class ConfigError(TaskcoreError):
    """Configuration is invalid or incomplete; the message names the field."""


class InvalidArgument(TaskcoreError, ValueError):
    """An argument given to the API cannot be stored as resque expects; nothing was written.

    The message names the argument (``queue``, ``args[0]["x"]``, ``timestamp``, ...), what is
    wrong with it and what to pass instead. Also a :class:`ValueError`.
    """


class DriverNotFound(ConfigError):
    """No driver is registered for a URL scheme, or its dependency is not installed."""


class BackendError(TaskcoreError):
    """The storage failed an operation; ``__cause__`` holds the native error."""


class BackendUnavailable(BackendError):
    """The storage server cannot be reached (refused, reset, timed out, went away).

    Nothing was written by the failed call unless its docstring says otherwise; retry it once the
    server is back.
    """


class JobTimeout(TaskcoreError):
    """A job ran longer than its definition's ``timeout`` and was cancelled.

    It is recorded as a failure like any other (retry it from the failed list, or let the Retry
    plugin do it). A sync job running in a thread cannot be interrupted: its outcome is
    recorded at the timeout and the thread finishes in the background.
    """


class MalformedPayload(TaskcoreError):
    """Bytes in storage are not a valid resque record; the message quotes the start of them."""


class DuplicateJobError(TaskcoreError):
    """The same job (class, queue and args) is already scheduled at that second.

    resque keeps one copy per (payload, second); pass ``suppress_duplicate=True`` to
    ``enqueue_at``/``enqueue_in`` to ignore the duplicate instead of raising.
    """


class JobNotFound(TaskcoreError):
    """The job or failure record named is not in storage (it may have been handled already)."""


class UnknownJob(TaskcoreError):
    """A payload names a job class that is not registered with this worker.

    The job is recorded as a failure (never imported); register the job or retry it from the
    failed list on a worker that has it.
    """


class ValidationError(TaskcoreError):
    """A task's inputs failed validation; nothing was enqueued."""
