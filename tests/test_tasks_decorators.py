"""The two task decorators share one builder: ``define_task`` names an unnamed task after its
module's path when discovered, ``TaskRegistry.task`` keeps the function's own name."""

from __future__ import annotations

import textwrap
from pathlib import Path

from taskcore.tasks import TaskRegistry


def test_a_registry_task_found_by_discovery_keeps_its_function_name(tmp_path: Path) -> None:
    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "outbox.py").write_text(
        textwrap.dedent(
            """
            from taskcore.tasks import TaskRegistry, define_task

            local = TaskRegistry()

            @local.task(queue="mail")
            async def send_email(to: str) -> None: ...

            @define_task(queue="mail")
            async def unnamed(to: str) -> None: ...
            """
        )
    )
    (folder / "named.py").write_text(
        "from taskcore.tasks import define_task\n\n"
        "@define_task(queue='mail')\n"
        "async def anything(to: str) -> None: ...\n"
    )
    # outbox.py holds two tasks: the registry one keeps "send_email", so only "unnamed" takes
    # the module's path and nothing collides.
    tasks = TaskRegistry().discover(folder)
    assert sorted(tasks.jobs) == ["named", "outbox", "send_email"]
