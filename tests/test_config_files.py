"""Settings found without flags (taskcore.toml, [tool.taskcore]), durations as timedeltas,
tasks_paths, ``taskcore run`` with no APP, and ``taskcore --version``."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from taskcore.cli import _parser, main
from taskcore.cli_support import app_of as _app_settings
from taskcore.config import Settings
from taskcore.errors import ConfigError


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty project directory as the current directory, with no TASKCORE_* variables."""
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("TASKCORE_")]:
        monkeypatch.delenv(key)
    yield tmp_path


PYPROJECT = """
[project]
name = "shop"

[tool.taskcore]
namespace = "from-pyproject"
tasks_paths = ["jobs"]
"""


def test_taskcore_toml_in_the_current_directory_is_read(project: Path) -> None:
    (project / "taskcore.toml").write_text('namespace = "from-toml"\nmax_workers = 3\n')
    settings = Settings.load()
    assert (settings.namespace, settings.max_workers) == ("from-toml", 3)
    assert Settings().namespace == "resque"  # plain Settings(...) reads no file


def test_the_tool_taskcore_table_of_pyproject_is_read(project: Path) -> None:
    (project / "pyproject.toml").write_text(PYPROJECT)
    settings = Settings.load()
    assert (settings.namespace, settings.tasks_paths) == ("from-pyproject", ["jobs"])


def test_a_pyproject_without_the_table_is_ignored(project: Path) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "shop"\n')
    assert Settings.load().namespace == "resque"


def test_taskcore_toml_wins_over_pyproject_and_says_so(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "taskcore.toml").write_text('namespace = "from-toml"\n')
    with caplog.at_level(logging.WARNING, "taskcore.config"):
        assert Settings.load().namespace == "from-toml"
    assert "ignoring the table" in caplog.text


def test_precedence_flags_environment_file_code(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "pyproject.toml").write_text(PYPROJECT)
    code = {"namespace": "from-code", "max_workers": 7, "min_workers": 2}
    assert Settings.load(defaults=code).namespace == "from-pyproject"  # file beats code
    assert Settings.load(defaults=code).max_workers == 7  # code fills what the file lacks
    monkeypatch.setenv("TASKCORE_NAMESPACE", "from-env")
    assert Settings.load(defaults=code).namespace == "from-env"  # environment beats file
    assert Settings.load(defaults=code, namespace="from-flag").namespace == "from-flag"
    named = project / "other.toml"
    named.write_text('namespace = "from-named-file"\n')
    monkeypatch.delenv("TASKCORE_NAMESPACE")
    monkeypatch.setenv("TASKCORE_CONFIG", str(named))
    assert Settings.load().namespace == "from-named-file"  # $TASKCORE_CONFIG beats the search


def test_an_error_in_the_table_names_the_table(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.taskcore]\nmax_workers = -1\n")
    with pytest.raises(
        ConfigError, match=r"max_workers.*\[tool\.taskcore\] of '.*pyproject\.toml'"
    ):
        Settings.load()


def test_durations_take_timedeltas_in_code(project: Path) -> None:
    settings = Settings(
        timeout=timedelta(milliseconds=250),
        stuck_worker_timeout=timedelta(hours=1),
        shutdown_timeout=timedelta(seconds=30),
        leader_lock_timeout=timedelta(minutes=3),
    )
    assert settings.timeout == 0.25
    assert settings.stuck_worker_timeout == 3600
    assert settings.shutdown_timeout == 30
    assert settings.leader_lock_timeout == 180
    with pytest.raises(ConfigError, match="leader_lock_timeout: a whole number of seconds"):
        Settings(leader_lock_timeout=timedelta(seconds=1.5))


def test_tasks_paths_from_the_environment(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKCORE_TASKS_PATHS", "tasks, myapp.jobs")
    assert Settings.load().tasks_paths == ["tasks", "myapp.jobs"]
    monkeypatch.setenv("TASKCORE_TASKS_PATHS", '["a b/tasks"]')
    assert Settings.load().tasks_paths == ["a b/tasks"]


def test_run_with_no_app_discovers_the_configured_tasks(project: Path) -> None:
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "jobs").mkdir()
    (project / "jobs" / "ping.py").write_text(
        "from taskcore.tasks import define_task\n\n@define_task()\ndef ping() -> str:\n"
        "    return 'pong'\n"
    )
    for command in ("run", "worker", "scheduler"):
        app = _app_settings(_parser().parse_args([command]))
        assert [t.name for t in app.tasks.tasks()] == ["ping"]
        assert app.settings.namespace == "from-pyproject"


def test_run_with_no_app_and_no_tasks_paths_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run"]) == 2
    assert "give APP (module:attribute), or set tasks_paths" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from taskcore import __version__

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"taskcore {__version__}"
