"""The taskcore command line, driven through main([...]) on the in-memory driver."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from taskcore.cli import main

APP_MODULE = """
from __future__ import annotations
import os, signal
from taskcore.tasks import TaskRegistry

tasks = TaskRegistry()

@tasks.task(queue="work")
async def greet(name: str) -> str:
    return "hello " + name

@tasks.task(queue="work")
async def explode() -> None:
    raise RuntimeError("kaboom")

@tasks.task(queue="work")
async def stop_me() -> None:
    # the operator's Ctrl-C, sent while a worker is running
    os.kill(os.getpid(), signal.SIGTERM)
"""


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Global options for a private in-memory store, and an importable APP module."""
    module = f"cliapp_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(APP_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TASKCORE_APP", f"{module}:tasks")
    return ["--url", "memory://cli-tests", "--namespace", f"cli-{uuid.uuid4().hex[:8]}"]


def app_spec() -> str:
    """The APP (module:attribute) the ``store`` fixture wrote."""
    return os.environ["TASKCORE_APP"]


def info(store: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main([*store, "info", "--json"]) == 0
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def test_enqueue_a_task_validates_and_info_shows_it(
    store: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = app_spec()
    assert main([*store, "enqueue", "greet", "--args", '{"name": "ada"}', "--app", spec]) == 0
    assert "enqueued greet on 'work'" in capsys.readouterr().out
    assert main([*store, "enqueue", "greet", "--args", '{"nom": "x"}', "--app", spec]) == 1
    assert "name: Field required" in capsys.readouterr().err
    assert main([*store, "enqueue", "raw_job", "--args", "[1, 2]", "--queue", "raw"]) == 0
    data = info(store, capsys)
    assert data["queues"] == {"work": {"length": 1}, "raw": {"length": 1}}
    assert data["failed"] == 0
    assert main([*store, "info"]) == 0
    table = capsys.readouterr().out
    assert "work" in table and "failed:   0" in table


def test_run_works_jobs_and_stops_cleanly_on_sigterm(
    store: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = app_spec()
    for name, args in (("greet", '{"name": "bob"}'), ("explode", "{}"), ("stop_me", "{}")):
        assert main([*store, "enqueue", name, "--args", args, "--app", spec]) == 0
    assert main([*store, "run", spec, "--queues", "work"]) == 0
    assert "stopped" in capsys.readouterr().out
    data = info(store, capsys)
    assert data["workers_registered"] == {}  # the workers unregistered on the way out
    assert data["queues"] == {"work": {"length": 0}}
    stats = data["stats"]
    assert isinstance(stats, dict)
    assert (stats["processed"], stats["failed"]) == (2, 1)


def test_failed_list_retry_remove(store: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    spec = app_spec()
    for _ in range(2):
        assert main([*store, "enqueue", "explode", "--app", spec]) == 0
    assert main([*store, "enqueue", "stop_me", "--app", spec]) == 0
    assert main([*store, "worker", spec]) == 0
    capsys.readouterr()
    assert main([*store, "failed", "list"]) == 0
    listing = capsys.readouterr().out
    assert "[0]" in listing and "[1]" in listing and "RuntimeError: kaboom" in listing
    assert main([*store, "failed", "retry", "0"]) == 0
    assert "retried 1 of 1" in capsys.readouterr().out
    assert main([*store, "failed", "remove", "--all"]) == 0
    assert "removed 1 of 1" in capsys.readouterr().out
    data = info(store, capsys)
    assert data["failed"] == 0
    assert data["queues"] == {"work": {"length": 1}}  # the retried job is back
    assert main([*store, "failed", "retry", "7"]) == 1
    assert "no failure at index 7" in capsys.readouterr().err


def test_bad_app_and_bad_config_are_errors(
    store: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main([*store, "run", "no_such_module_xyz:tasks"]) == 1
    assert "cannot be loaded" in capsys.readouterr().err
    assert main([*store, "run", "json"]) == 1
    assert "module:attribute" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("timeout = -5\n")
    assert main(["--config", str(bad), "info"]) == 1
    assert "timeout" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])
    assert exit_info.value.code == 2


def test_demo_runs_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--seconds", "2.5"]) == 0
    out = capsys.readouterr().out
    assert 'ran add({"a":1,"b":2})' in out
    assert "Retry re-schedules it" in out
    assert "refused to enqueue add with bad inputs" in out
    assert "ran heartbeat" in out
    assert "summary" in out and "demo finished" in out


def test_demo_tasks_ship_in_the_package_and_a_second_run_starts_afresh(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # a wheel has no examples/: the demo's tasks must be importable from the package
    from taskcore import demo

    assert Path(demo.__file__).parent == Path(main.__code__.co_filename).parent
    for _ in range(2):
        assert main(["demo", "--seconds", "1.5"]) == 0
        out = capsys.readouterr().out
        # charge_card declines its first attempt on every run, not only the first one
        assert "card declined (attempt 1)" in out
        assert "audit' middleware: add 2, charge_card 1," in out


def test_config_file_applies_to_commands_that_load_an_app(
    store: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # --config used to be overridden field by field by the APP's own (default) settings, so a
    # job went to namespace 'resque' instead of the file's namespace
    namespace = f"cli-toml-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "taskcore.toml"
    config.write_text(f'url = "memory://cli-tests"\nnamespace = "{namespace}"\n')
    spec = app_spec()
    assert (
        main(
            ["--config", str(config), "enqueue", "greet", "--args", '{"name": "x"}', "--app", spec]
        )
        == 0
    )
    data = info(["--config", str(config)], capsys)
    assert data["queues"] == {"work": {"length": 1}}


def test_global_options_work_before_or_after_the_command(
    store: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # `taskcore info --url ...` is how people type it; both orders reach the same store.
    assert main([*store, "enqueue", "raw_job", "--args", "[1]", "--queue", "raw"]) == 0
    capsys.readouterr()
    assert main(["info", "--json", *store]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["queues"] == {"raw": {"length": 1}}
    assert info(store, capsys) == after
    # an option given after the command wins over the same option before it
    assert main([*store, "info", "--json", "--namespace", "cli-elsewhere"]) == 0
    assert json.loads(capsys.readouterr().out)["queues"] == {}
