"""Task definitions (no storage): the checks a task's fields get when it is defined.

What reaches storage runs on every driver: ``conformance_tests/test_tasks_layer.py``."""

from __future__ import annotations

from typing import Any

import pytest

from taskcore.errors import ConfigError
from taskcore.tasks import Task, TaskRegistry
from taskcore.worker import Worker


def test_periodic_task_takes_no_inputs() -> None:
    tasks = TaskRegistry()
    with pytest.raises(ConfigError, match=r"declares inputs \(day\)"):

        @tasks.task(frequency=10)
        async def report(day: str = "monday") -> None: ...


def test_bad_definitions_are_config_errors() -> None:
    tasks = TaskRegistry()
    with pytest.raises(ConfigError, match="frequency"):
        tasks.task(frequency=-1)(lambda: None)
    with pytest.raises(ConfigError, match="not registered"):
        tasks.task(middleware=["missing"])(lambda: None)
    with pytest.raises(ConfigError, match="cannot be a named input"):

        @tasks.task()
        def spread(*items: int) -> None: ...


async def test_a_function_task_stays_callable() -> None:
    tasks = TaskRegistry()

    @tasks.task()
    def double(x: int) -> int:
        return 2 * x

    assert double(4) == 8


def test_a_task_timeout_reaches_its_job_definition_and_is_validated() -> None:
    tasks = TaskRegistry()

    @tasks.task(timeout=12.5)
    async def slow() -> None: ...

    class Nightly(Task):
        name = "nightly"
        timeout = 600

        async def run(self, inputs: Any, worker: Worker | None) -> None: ...

    tasks.add(Nightly())
    assert tasks.jobs["slow"].timeout == 12.5
    assert tasks.jobs["nightly"].timeout == 600
    with pytest.raises(ConfigError, match="timeout"):

        @tasks.task(timeout=0)
        async def never() -> None: ...
