"""The taskcore command line, driven through main([...]) on the in-memory driver."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
import time
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
    assert main([*store, "enqueue", "raw_job", "--raw", "--args", "[1, 2]", "--queue", "raw"]) == 0
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
    assert "removed 1 failed job(s)" in capsys.readouterr().out
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
    assert 'add({"a":1,"b":2}) on \'math\' succeeded' in out  # narrated by taskcore.ops.logs
    assert "; retry in 1 s, 2 attempt(s) left" in out
    assert "refused to enqueue add with bad inputs" in out
    assert "heartbeat({}) on 'default' succeeded" in out
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
    assert main([*store, "enqueue", "raw_job", "--raw", "--args", "[1]", "--queue", "raw"]) == 0
    capsys.readouterr()
    assert main(["info", "--json", *store]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["queues"] == {"raw": {"length": 1}}
    assert info(store, capsys) == after
    # an option given after the command wins over the same option before it
    assert main([*store, "info", "--json", "--namespace", "cli-elsewhere"]) == 0
    assert json.loads(capsys.readouterr().out)["queues"] == {}


# ------------------------------------------------------------------ enqueue traps


def test_enqueue_refuses_an_unknown_task_listing_close_names(
    store: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # it exited 0 and the worker then failed the job as UnknownJob
    assert main([*store, "enqueue", "gret", "--args", '{"name": "x"}', "--app", app_spec()]) == 2
    err = capsys.readouterr().err.strip()
    assert "no task named 'gret'" in err and "did you mean: greet" in err and "--raw" in err
    assert "\n" not in err
    assert info(store, capsys)["queues"] == {}


def test_enqueue_without_app_needs_raw_and_raw_goes_where_told(
    store: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # without --app a task's name went to 'default' whatever the task's queue
    assert main([*store, "enqueue", "greet", "--args", '{"name": "x"}']) == 2
    assert "give --app APP" in capsys.readouterr().err
    assert info(store, capsys)["queues"] == {}
    assert main([*store, "enqueue", "Legacy::Job", "--raw", "--args", "[1]"]) == 0
    assert main([*store, "enqueue", "gret", "--raw", "--app", app_spec(), "--queue", "q"]) == 0
    assert info(store, capsys)["queues"] == {"default": {"length": 1}, "q": {"length": 1}}


@pytest.mark.parametrize(
    ("url", "part"),
    [
        ("", "is empty"),  # --url "" used memory:// silently
        ("redis://:hunter2@cache:6379/abc", "database in the path is not a number"),
        ("postgresql://u:hunter2@db:99999/jobs", "port 99999 is out of range"),
    ],
)
def test_a_bad_url_is_one_line_without_the_password(
    capsys: pytest.CaptureFixture[str], url: str, part: str
) -> None:
    assert main(["--url", url, "info"]) == 1
    err = capsys.readouterr().err
    assert part in err and "hunter2" not in err and err.count("\n") == 1


# ------------------------------------------------------------------ environment beats code

CODED_APP = """
from taskcore import App, Settings
from taskcore.tasks import TaskRegistry

tasks = TaskRegistry()

@tasks.task(queue="work")
async def greet(name: str) -> str:
    return "hello " + name

app = App(Settings(url="memory://cli-coded", namespace="{namespace}"), tasks)
"""


def test_taskcore_url_and_url_flag_beat_an_app_configured_in_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = f"cli-env-{uuid.uuid4().hex[:8]}"
    module = f"codedapp_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(CODED_APP.format(namespace=namespace))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TASKCORE_URL", "memory://cli-from-env")
    enqueue = ["enqueue", "greet", "--args", '{"name": "x"}', "--app", f"{module}:app"]
    assert main(enqueue) == 0  # went to memory://cli-coded before
    assert main(["--url", "memory://cli-from-flag", *enqueue]) == 0

    def queues(url: str) -> object:
        capsys.readouterr()
        assert main(["--url", url, "--namespace", namespace, "info", "--json"]) == 0
        return json.loads(capsys.readouterr().out)["queues"]

    assert queues("memory://cli-from-env") == {"work": {"length": 1}}
    assert queues("memory://cli-from-flag") == {"work": {"length": 1}}
    assert queues("memory://cli-coded") == {}


# ------------------------------------------------------------------ the current directory

LOCAL_QUEUE = """
from taskcore.queue import Queue

class LocalQueue(Queue):
    async def details(self):
        return {**await super().details(), "local_queue": True}
"""


def test_every_command_imports_resque_overrides_from_the_current_directory(
    store: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # only commands loading an APP put it on sys.path: info/failed/enqueue said "No module named"
    module = f"localqueue_{uuid.uuid4().hex[:8]}"
    Path(f"{module}.py").write_text(LOCAL_QUEUE)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", os.getcwd())])
    monkeypatch.setenv("TASKCORE_RESQUE_OVERRIDES__QUEUE", f"{module}:LocalQueue")
    assert main([*store, "enqueue", "raw_job", "--raw"]) == 0
    assert main([*store, "failed", "list"]) == 0
    assert info(store, capsys)["local_queue"] is True


# ------------------------------------------------------------------ pipes

BROKEN_PIPE = """
import asyncio, sys
from taskcore.cli import main
from taskcore.codec import encode_failure, encode_job
from taskcore.registry import connect

async def fill():
    async with connect("memory://pipe", namespace="pipe") as backend:
        for i in range(3000):
            await backend.push_failure(encode_failure(
                worker="w", queue="q", payload=encode_job("Job", "q", [i]), exception="E",
                error="x" * 50, backtrace=["a", "b"], failed_at="2030-01-01T00:00:00.000Z"))

asyncio.run(fill())
sys.exit(main(["--url", "memory://pipe", "--namespace", "pipe", "failed", "list", "--json"]))
"""


def test_failed_list_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    # `taskcore failed list --json | head` ended in a BrokenPipeError traceback
    proc = subprocess.Popen(
        [sys.executable, "-c", BROKEN_PIPE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().strip() == b"["
    proc.stdout.close()  # what head does after its lines
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert err == ""


@pytest.mark.parametrize("delay", ["nan", "inf", "-1"])
def test_enqueue_in_takes_a_finite_delay_of_zero_or_more_seconds(
    store: list[str], capsys: pytest.CaptureFixture[str], delay: str
) -> None:
    # nan and inf ended in a ValueError/OverflowError traceback
    with pytest.raises(SystemExit) as exit_info:
        main([*store, "enqueue", "Job", "--raw", "--in", delay])
    assert exit_info.value.code == 2
    assert "not a delay in seconds >= 0" in capsys.readouterr().err


def test_enqueue_refuses_an_empty_queue(
    store: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # --queue "" went to 'default' (raw) or to the task's queue
    assert main([*store, "enqueue", "Job", "--raw", "--queue", ""]) == 1
    assert "queue" in capsys.readouterr().err
    spec = app_spec()
    assert (
        main([*store, "enqueue", "greet", "--args", '{"name": "x"}', "--app", spec, "--queue", ""])
        == 1
    )
    assert "queue" in capsys.readouterr().err
    assert info(store, capsys)["queues"] == {}


# ---------------------------------------------------------------- health and info (operations)


def health_json(
    store: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    code = main([*store, "health", "--json"])
    report: dict[str, object] = json.loads(capsys.readouterr().out)
    return code, report


def test_health_json_gives_the_verdict_reasons_and_exit_code(
    store: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing running: no leader, no worker pinging
    code, report = health_json(store, capsys)
    assert (code, report["status"], report["exit_code"]) == (1, "warn", 1)
    assert report["reasons"] == [
        "no scheduler holds the leader lock: delayed jobs wait",
        "0 worker(s) pinging",
    ]
    assert main([*store, "health"]) == 1
    text = capsys.readouterr().out
    assert text.startswith("WARN\n") and "WARN leader" in text
    # thresholds from the environment: the same storage is healthy, then failing
    monkeypatch.setenv("TASKCORE_HEALTH__REQUIRE_LEADER", "false")
    monkeypatch.setenv("TASKCORE_HEALTH__MIN_WORKERS", "0")
    code, report = health_json(store, capsys)
    assert (code, report["status"], report["reasons"]) == (0, "ok", [])
    assert main([*store, "enqueue", "Job", "--raw", "--queue", "mail"]) == 0
    monkeypatch.setenv("TASKCORE_HEALTH__LENGTH_FAIL", "1")
    code, report = health_json(store, capsys)
    assert (code, report["status"], report["reasons"]) == (2, "fail", ["queue mail: 1 waiting"])


async def test_info_watch_redraws_in_place_showing_a_change_between_refreshes() -> None:
    from taskcore.app import App
    from taskcore.clock import FakeClock
    from taskcore.codec import encode_job
    from taskcore.config import Settings
    from taskcore.ops.commands import info_command
    from taskcore.ops.info import CLEAR
    from taskcore.registry import connect

    url, namespace = f"memory://cli-watch-{uuid.uuid4().hex[:8]}", "watch"
    app = App(Settings(url=url, namespace=namespace, scheduler=False, max_workers=0))
    clock, out = FakeClock(), io.StringIO()
    command = asyncio.create_task(info_command(app, False, 5, out, clock=clock, refreshes=2))

    async def first_frame_drawn() -> None:
        # it drew a frame and waits 5 s on the clock (FakeClock has no event for a new sleeper)
        while clock.sleepers == 0:  # noqa: ASYNC110
            await asyncio.sleep(0)

    await asyncio.wait_for(first_frame_drawn(), 10)
    async with connect(url, namespace=namespace) as backend:
        await backend.push("mail", encode_job("Send", "mail", [1]))
        clock.advance(5)
        assert await asyncio.wait_for(command, 10) == 0
        await backend.flush()
    screen = out.getvalue()
    assert screen.startswith(CLEAR)
    first, second = screen.split(CLEAR)[1:]  # two frames, each clearing the screen first
    assert "queues:   (none)" in first and "mail" not in first
    assert re.search(r"mail +1 waiting", second)
    assert "(refreshing every 5 s; Ctrl-C to stop)" in second


def test_info_watch_refuses_an_interval_that_is_not_a_positive_number_of_seconds(
    store: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # --watch 0 redrew in a busy loop; nan raised from asyncio
    for bad in ("0", "-1", "nan"):
        assert main([*store, "info", "--watch", bad]) == 1
        assert "--watch" in capsys.readouterr().err


def test_info_shows_an_undecodable_current_job_as_such_in_text_and_json(
    store: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from conformance_tests.raw_records import raw_writer
    from taskcore.backend import WorkerId
    from taskcore.registry import connect

    async def plant() -> None:
        async with connect(store[1], namespace=store[3]) as backend:
            worker = WorkerId("host:7", ("math",))
            await raw_writer(backend).current_job(worker, b"not json {", time.time())

    asyncio.run(plant())
    data = info(store, capsys)
    status = data["worker_status"]
    assert isinstance(status, dict)
    assert status["host:7"] == {"state": "undecodable", "queue": "math", "record": "not json {"}
    assert (data["busy"], data["idle"]) == (0, 0)
    assert main([*store, "info"]) == 0
    table = capsys.readouterr().out
    assert re.search(r"host:7 +math +undecodable current-job record: not json \{", table)
    assert "workers:  1 registered, 0 busy, 0 idle" in table


def test_metrics_without_its_optional_extra_is_one_line_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # as on an install without 'taskcore[metrics]': prometheus_client cannot be imported
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    monkeypatch.delitem(sys.modules, "taskcore.ops.metrics", raising=False)
    assert main(["metrics", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "taskcore: error: taskcore metrics need prometheus_client: pip install 'taskcore[metrics]'"
    )
