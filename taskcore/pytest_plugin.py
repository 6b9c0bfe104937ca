"""pytest fixtures for applications that use taskcore, loaded automatically when taskcore is
installed (the ``pytest11`` entry point ``taskcore``; disable with ``-p no:taskcore``).

::

    async def test_signup_sends_a_welcome(taskcore_app, taskcore_backend, taskcore_clock):
        await taskcore_app.task.enqueue_in(60_000, "send_welcome", {"to": "ada@b.c"})
        taskcore_clock.advance(60.5)
        assert await drain(taskcore_backend, taskcore_app.tasks, clock=taskcore_clock) == 1

* ``taskcore_clock``: a :class:`~taskcore.clock.FakeClock` (time moves only on ``advance``);
* ``taskcore_backend``: an opened in-memory backend in a namespace of its own (no test sees
  another's jobs), closed after the test;
* ``taskcore_tasks``: the :class:`~taskcore.tasks.TaskRegistry` the App runs: the tasks of
  ``tasks_paths`` (``taskcore.toml`` or ``[tool.taskcore]``, see :mod:`taskcore.configfile`),
  else none. Override it in your ``conftest.py`` to give your own registry;
* ``taskcore_app``: an :class:`~taskcore.app.App` of those tasks on that backend and clock,
  opened (``app.task`` and ``app.queue`` work; nothing runs until ``await app.start()``) and
  stopped after the test.

The async fixtures are pytest-asyncio fixtures when pytest-asyncio is installed (its ``auto``
mode, or ``strict`` mode with ``@pytest.mark.asyncio`` on the tests); without it they are plain
async fixtures, which anyio's plugin runs for tests marked ``@pytest.mark.anyio``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar, cast

import pytest

from taskcore.app import App
from taskcore.backend import Backend
from taskcore.clock import FakeClock
from taskcore.config import Settings
from taskcore.tasks.registry import TaskRegistry
from taskcore.testing import memory_backend

__all__ = ["taskcore_app", "taskcore_backend", "taskcore_clock", "taskcore_tasks"]

F = TypeVar("F", bound=Callable[..., Any])

_fixture: Callable[..., Any]
try:
    import pytest_asyncio

    _fixture = pytest_asyncio.fixture
except ImportError:  # anyio (or another runner of async fixtures) then runs them
    _fixture = pytest.fixture


def async_fixture(fn: F) -> F:
    """A function-scoped async fixture, pytest-asyncio's when it is installed."""
    return cast(F, _fixture(fn))


@pytest.fixture
def taskcore_clock() -> FakeClock:
    """A FakeClock at a fixed start; ``advance(seconds)`` moves it."""
    return FakeClock()


@pytest.fixture
def taskcore_tasks() -> TaskRegistry:
    """The tasks of the configured ``tasks_paths`` (none when unset): override in conftest.py."""
    paths = Settings.load().tasks_paths
    return TaskRegistry().discover(*paths) if paths else TaskRegistry()


@async_fixture
async def taskcore_backend() -> AsyncIterator[Backend]:
    """An opened in-memory backend in a fresh namespace, closed after the test."""
    async with memory_backend() as backend:
        yield backend


@async_fixture
async def taskcore_app(
    taskcore_backend: Backend, taskcore_tasks: TaskRegistry, taskcore_clock: FakeClock
) -> AsyncIterator[App]:
    """An opened App of ``taskcore_tasks`` on ``taskcore_backend`` and ``taskcore_clock``;
    ``await taskcore_app.start()`` starts its workers and scheduler. Stopped after the test."""
    app = App(Settings(), taskcore_tasks, backend=taskcore_backend, clock=taskcore_clock)
    await app.open()
    try:
        yield app
    finally:
        await app.stop()
