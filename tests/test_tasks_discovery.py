"""Task discovery: folders, files and packages of task modules, as Actionhero loads ./tasks/."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from taskcore.tasks import DiscoveryError, TaskRegistry
from taskcore.testing import run_task


def write(root: Path, relative: str, source: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def tasks_folder(root: Path) -> Path:
    """A tasks folder with a function task, named and unnamed classes, and files to skip."""
    folder = root / "tasks"
    write(
        folder,
        "auth/session_validation.py",
        """
        from taskcore.tasks import define_task

        @define_task(queue="auth")
        async def validate(token: str) -> bool:
            "Checks a session token."
            return token == "ok"
        """,
    )
    write(
        folder,
        "mail.py",
        """
        from taskcore.tasks import Task

        class SendEmail(Task):
            name = "send_email"
            queue = "mail"

            async def run(self, inputs, worker):
                return "sent to " + inputs["to"]
        """,
    )
    write(
        folder,
        "reports/daily.py",
        """
        from datetime import timedelta
        from taskcore.tasks import Task

        class Daily(Task):
            frequency = timedelta(hours=24)

            def run(self, inputs, worker):
                return "report"
        """,
    )
    for skipped in ("_private.py", "auth/test_session_validation.py", "conftest.py", "x_test.py"):
        write(folder, skipped, "raise RuntimeError('must not be imported')\n")
    return folder


async def test_a_folder_gives_dotted_names_unless_the_task_names_itself(tmp_path: Path) -> None:
    tasks = TaskRegistry().discover(tasks_folder(tmp_path))
    assert sorted(t.name for t in tasks.tasks()) == [
        "auth.session_validation",
        "reports.daily",
        "send_email",
    ]
    validation = tasks.get("auth.session_validation")
    assert (validation.queue, validation.description) == ("auth", "Checks a session token.")
    assert tasks.get("reports.daily").frequency == 86400
    assert await run_task(tasks, "auth.session_validation", {"token": "ok"}) is True
    assert await run_task(tasks, "send_email", {"to": "ada"}) == "sent to ada"
    assert await run_task(tasks, "reports.daily") == "report"


def test_discovering_a_folder_twice_or_from_two_registries_is_harmless(tmp_path: Path) -> None:
    folder = tasks_folder(tmp_path)
    tasks = TaskRegistry().discover(folder).discover(str(folder))
    assert len(tasks) == 3
    # a second registry discovering a subfolder names the same function by its own path
    other = TaskRegistry().discover(folder / "auth")
    assert [t.name for t in other.tasks()] == ["session_validation"]
    assert "auth.session_validation" in tasks


def test_a_duplicate_name_names_both_files_and_registers_nothing(tmp_path: Path) -> None:
    folder = tasks_folder(tmp_path)
    write(
        folder,
        "zz_more.py",
        """
        from taskcore.tasks import define_task

        @define_task(name="send_email")
        def send() -> None: ...
        """,
    )
    tasks = TaskRegistry()
    with pytest.raises(DiscoveryError) as info:
        tasks.discover(folder)
    message = str(info.value)
    assert "task name 'send_email' is defined in " in message
    assert "mail.py" in message and "zz_more.py" in message
    assert len(tasks) == 0


def test_a_name_already_registered_in_code_is_a_duplicate(tmp_path: Path) -> None:
    tasks = TaskRegistry()

    @tasks.task()
    async def send_email(to: str) -> None: ...

    with pytest.raises(DiscoveryError, match=r"'send_email' is defined in .*test_tasks_discovery"):
        tasks.discover(tasks_folder(tmp_path))


def test_a_module_that_fails_to_import_names_the_file(tmp_path: Path) -> None:
    folder = tasks_folder(tmp_path)
    write(folder, "billing/charge.py", "import no_such_module_for_taskcore\n")
    with pytest.raises(DiscoveryError, match=r"cannot import task module .*billing/charge\.py: "):
        TaskRegistry().discover(folder)
    write(folder, "billing/charge.py", "def broken(:\n")
    with pytest.raises(DiscoveryError, match=r"charge\.py: SyntaxError") as info:
        TaskRegistry().discover(folder)
    assert isinstance(info.value.__cause__, SyntaxError)


def test_a_bad_task_definition_in_a_module_names_the_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "tasks/tick.py",
        """
        from taskcore.tasks import define_task

        @define_task(frequency=60)
        def tick(day: str = "monday") -> None: ...
        """,
    )
    with pytest.raises(DiscoveryError, match=r"tick\.py: ConfigError: .*declares inputs"):
        TaskRegistry().discover(tmp_path / "tasks")


async def test_a_package_is_imported_by_name_with_relative_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "shop_app/__init__.py", "")
    write(tmp_path, "shop_app/prices.py", "VAT = 0.2\n")
    write(tmp_path, "shop_app/jobs/__init__.py", "")
    write(
        tmp_path,
        "shop_app/jobs/invoices/send.py",
        """
        from taskcore.tasks import define_task
        from ...prices import VAT

        @define_task()
        def send(amount: float) -> float:
            return amount * (1 + VAT)
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    tasks = TaskRegistry().discover("shop_app.jobs")
    assert [t.name for t in tasks.tasks()] == ["invoices.send"]
    assert await run_task(tasks, "invoices.send", {"amount": 10.0}) == pytest.approx(12.0)


def test_a_missing_path_is_an_error_not_an_empty_registry(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match=r"is not a folder or a \.py file"):
        TaskRegistry().discover(tmp_path / "nope")
    with pytest.raises(DiscoveryError, match="neither an existing path nor a package"):
        TaskRegistry().discover("no such thing")
    with pytest.raises(DiscoveryError, match="cannot import task module no_such_pkg_for_tc"):
        TaskRegistry().discover("no_such_pkg_for_tc")
