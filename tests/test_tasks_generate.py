"""``taskcore generate task``: the files it writes, and that the test passes as written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from taskcore.cli import main
from taskcore.tasks import TaskRegistry
from taskcore.tasks.generate import GenerateError, generate_task


def run_pytest(folder: Path) -> subprocess.CompletedProcess[str]:
    """pytest on ``folder`` in a fresh process, as a user runs it (no project config)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKCORE_", "PYTEST_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        cwd=folder.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_generated_tests_pass_as_written(tmp_path: Path) -> None:
    folder = tmp_path / "tasks"
    written = [
        generate_task("auth.session_validation", folder, queue="auth"),
        generate_task("cleanup", folder, frequency=3600),
        generate_task("reports.nightly", folder, cron="0 3 * * *"),
    ]
    assert [w.module.relative_to(folder).as_posix() for w in written] == [
        "auth/session_validation.py",
        "cleanup.py",
        "reports/nightly.py",
    ]
    assert [w.test.name for w in written] == [
        "test_auth_session_validation.py",
        "test_cleanup.py",
        "test_reports_nightly.py",
    ]
    result = run_pytest(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout
    # the tasks are what discovery (and so `taskcore run`) sees; the tests are skipped by it
    tasks = TaskRegistry().discover(folder)
    assert sorted(t.name for t in tasks.tasks()) == [
        "auth.session_validation",
        "cleanup",
        "reports.nightly",
    ]
    assert tasks.get("auth.session_validation").queue == "auth"
    assert tasks.get("cleanup").frequency == 3600
    assert getattr(tasks.get("reports.nightly"), "cron", None) == "0 3 * * *"


def test_existing_files_are_never_overwritten(tmp_path: Path) -> None:
    folder = tmp_path / "tasks"
    first = generate_task("charge", folder)
    first.module.write_text("# my edits\n")
    first.test.unlink()
    with pytest.raises(GenerateError, match=r"charge\.py already exists; not overwriting"):
        generate_task("charge", folder)
    assert first.module.read_text() == "# my edits\n"
    assert not first.test.exists()  # nothing written, not even the missing test


@pytest.mark.parametrize(
    ("name", "options", "error"),
    [
        ("auth..session", {}, "cannot name a module"),
        ("class", {}, "cannot name a module"),
        ("test_thing", {}, "cannot name a module"),
        ("tick", {"frequency": 0.0}, "--frequency must be a number of seconds > 0"),
        ("tick", {"frequency": 5.0, "cron": "* * * * *"}, "not both"),
        ("tick", {"queue": ""}, "--queue must be a non-empty"),
    ],
)
def test_bad_names_and_options_are_refused(
    tmp_path: Path, name: str, options: dict[str, object], error: str
) -> None:
    with pytest.raises(GenerateError, match=error):
        generate_task(name, tmp_path / "tasks", **options)  # type: ignore[arg-type]
    assert not (tmp_path / "tasks").exists()


def test_the_cli_writes_into_the_configured_tasks_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("TASKCORE_")]:
        monkeypatch.delenv(key)
    (tmp_path / "taskcore.toml").write_text('tasks_paths = ["app/jobs", "more"]\n')
    assert main(["generate", "task", "mail.welcome", "--queue", "mail"]) == 0
    assert (tmp_path / "app/jobs/mail/welcome.py").is_file()
    assert (tmp_path / "app/jobs/mail/test_mail_welcome.py").is_file()
    assert "wrote app/jobs/mail/welcome.py" in capsys.readouterr().out
    assert main(["generate", "task", "mail.welcome"]) == 1
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["generate", "task", "x", "--frequency", "5", "--cron", "* * * * *"])
    assert usage.value.code == 2
    assert "not allowed with argument --frequency" in capsys.readouterr().err
