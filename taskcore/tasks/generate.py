"""``taskcore generate task NAME``: write a task module and its test into a tasks folder.

::

    taskcore generate task auth.session_validation --queue auth
    # tasks/auth/session_validation.py               the task (named by its path)
    # tasks/auth/test_auth_session_validation.py     a pytest test using taskcore.testing

A dotted ``NAME`` makes subfolders. ``frequency`` (SECONDS) or ``cron`` makes a periodic task,
which takes no inputs; otherwise the task takes one input, ``name``. The test imports nothing
from the project: it discovers the tasks folder it lives in, and drives the event loop with
``asyncio.run``, so it passes as written under plain ``pytest``. Existing files are never
overwritten: nothing is written when either file exists. Test files are skipped by discovery,
so they may live beside the tasks.
"""

from __future__ import annotations

import json
import keyword
import math
from dataclasses import dataclass
from pathlib import Path

from taskcore.errors import ConfigError

__all__ = ["GenerateError", "Generated", "generate_task"]


class GenerateError(ConfigError):
    """The task cannot be generated (a bad name, or a file already there)."""


@dataclass(frozen=True, slots=True)
class Generated:
    """The files written: the task module and its test."""

    module: Path
    test: Path


_MODULE = '''"""The {qname} task."""

from __future__ import annotations

from taskcore.tasks import define_task


@define_task({options})
async def {function}({parameters}) -> str:
    """{summary}"""
    return {result}
'''

_TEST = '''"""Tests of the {qname} task, generated with it: run them with pytest.

They drive the event loop with asyncio.run, so they need no pytest plugin; with
pytest-asyncio or anyio, write them as async tests instead.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from taskcore.queue import Queue
from taskcore.tasks import TaskAPI, TaskRegistry
from taskcore.testing import drain, find_enqueued_tasks, memory_backend, run_task

TASKS = Path(__file__).resolve().parents[{depth}]
"""The tasks folder of this test: discovered as `taskcore run` discovers it."""


def registry() -> TaskRegistry:
    return TaskRegistry().discover(TASKS)


def test_{function}_runs() -> None:
    run = run_task(registry(), {qname}{inputs_arg})
    assert asyncio.run(run) == {expected}


def test_{function}_is_enqueued_and_worked() -> None:
    async def scenario() -> None:
        tasks = registry()
        async with memory_backend() as backend:
            api = TaskAPI(Queue(backend, tasks.jobs), tasks)
            assert await api.enqueue({qname}{inputs_arg})
            [queued] = await find_enqueued_tasks(backend, {qname})
            assert queued.queue == {qqueue}
            assert await drain(backend, tasks) == 1
            assert await api.failed_count() == 0

    asyncio.run(scenario())
'''


def _quoted(text: str) -> str:
    """``text`` as a double-quoted Python string literal (JSON's escapes are Python's too)."""
    return json.dumps(text)


def _check_name(name: str) -> list[str]:
    parts = name.split(".")
    for part in parts:
        if not part.isidentifier() or keyword.iskeyword(part) or part.startswith(("_", "test")):
            raise GenerateError(
                f"task name {name!r}: {part!r} cannot name a module; use dotted lowercase "
                "identifiers, e.g. auth.session_validation (no leading '_' or 'test')"
            )
    return parts


def _options(queue: str, frequency: float | None, cron: str | None) -> str:
    options = [f"queue={_quoted(queue)}"]
    if frequency is not None:
        if not math.isfinite(frequency) or frequency <= 0:
            raise GenerateError(f"--frequency must be a number of seconds > 0, got {frequency}")
        options.append(f"frequency={frequency!r}")
    if cron is not None:
        if not cron.strip():
            raise GenerateError("--cron must be a cron expression, e.g. '*/5 * * * *'")
        options.append(f"cron={_quoted(cron)}")
    return ", ".join(options)


def generate_task(
    name: str,
    tasks_path: Path,
    *,
    queue: str = "default",
    frequency: float | None = None,
    cron: str | None = None,
) -> Generated:
    """Write task ``name``'s module and test below ``tasks_path`` (created if missing).

    ``frequency`` (seconds) and ``cron`` are exclusive. :class:`GenerateError` for a bad name
    or option, or when either file exists (then nothing is written).
    """
    parts = _check_name(name)
    if frequency is not None and cron is not None:
        raise GenerateError("give --frequency or --cron, not both")
    if not queue:
        raise GenerateError("--queue must be a non-empty queue name")
    options = _options(queue, frequency, cron)
    folder = tasks_path.joinpath(*parts[:-1])
    module = folder / f"{parts[-1]}.py"
    test = folder / f"test_{'_'.join(parts)}.py"
    for path in (module, test):
        if path.exists():
            raise GenerateError(f"{path} already exists; not overwriting it (nothing written)")
    periodic = frequency is not None or cron is not None
    function = parts[-1]
    fields = {
        "qname": _quoted(name),
        "qqueue": _quoted(queue),
        "function": function,
        "options": options,
        "depth": len(parts) - 1,
        "parameters": "" if periodic else 'name: str = "world"',
        "summary": (
            f"Runs on its schedule as task {_quoted(name)}; periodic tasks take no inputs."
            if periodic
            else f"Greets ``name``: replace this with what task {_quoted(name)} does."
        ),
        "result": _quoted(f"{name} ran") if periodic else 'f"hello {name}"',
        "inputs_arg": "" if periodic else ', {"name": "ada"}',
        "expected": _quoted(f"{name} ran" if periodic else "hello ada"),
    }
    folder.mkdir(parents=True, exist_ok=True)
    module.write_text(_MODULE.format(**fields), encoding="utf-8")
    test.write_text(_TEST.format(**fields), encoding="utf-8")
    return Generated(module, test)
