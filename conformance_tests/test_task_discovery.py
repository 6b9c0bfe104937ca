"""Discovered tasks on every driver: found in a folder, enqueued by name, worked by a worker."""

from __future__ import annotations

import textwrap
from pathlib import Path

from taskcore.backend import Backend
from taskcore.queue import Queue
from taskcore.tasks import TaskAPI, TaskRegistry
from taskcore.testing import drain


async def test_discovered_tasks_are_enqueued_and_worked(backend: Backend, tmp_path: Path) -> None:
    module = tmp_path / "tasks" / "billing" / "charge.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        textwrap.dedent(
            """
            from taskcore.tasks import define_task

            CHARGED = []

            @define_task(queue="billing")
            async def charge(customer: str, cents: int) -> None:
                CHARGED.append((customer, cents))
            """
        )
    )
    tasks = TaskRegistry().discover(tmp_path / "tasks")
    api = TaskAPI(Queue(backend, tasks.jobs), tasks)
    assert await api.enqueue("billing.charge", {"customer": "ada", "cents": 500})
    assert await backend.queue_range("billing", 0, -1) == [
        '{"class":"billing.charge","queue":"billing","args":[{"customer":"ada","cents":500}]}'
    ]
    assert await drain(backend, tasks, queues=["billing"]) == 1
    charged = tasks.get("billing.charge")
    assert charged.fn.__globals__["CHARGED"] == [("ada", 500)]  # type: ignore[attr-defined]
