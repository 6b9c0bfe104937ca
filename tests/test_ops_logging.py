"""Log lines of taskcore.ops.logs on the memory driver, read back through the JSON format."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from taskcore.app import App
from taskcore.backend import WorkerId
from taskcore.clock import FakeClock
from taskcore.codec import encode_job
from taskcore.config import Settings
from taskcore.errors import BackendUnavailable
from taskcore.ops.logformat import configure_logging
from taskcore.ops.logs import OutageTracker, SchedulerLog
from taskcore.ops.settings import SCHEDULER_LOGGING
from taskcore.plugins import Plugin
from taskcore.queue import LEADER_LOCK
from taskcore.registry import connect
from taskcore.scheduler import Scheduler
from taskcore.tasks import TaskRegistry
from taskcore_memory import server_for

SECRET = "ada@example.com"


class SkipAll(Plugin):
    async def before_perform(self) -> bool:
        return False


tasks = TaskRegistry()


@tasks.task(queue="work")
async def greet(to: str) -> str:
    return f"hello {to}"


@tasks.task(queue="work")
async def explode(to: str) -> None:
    raise RuntimeError("kaboom")


@tasks.task(
    queue="work",
    plugins=["Retry"],
    plugin_options={"Retry": {"retry_limit": 2, "retry_delay": 60_000}},
)
async def flaky(to: str) -> None:
    raise ValueError("try later")


@tasks.task(queue="work", plugins=[SkipAll])
async def skipped(to: str) -> None:
    raise AssertionError("never runs")


class Lines(logging.Handler):
    """JSON log lines written while the block runs; ``wait`` for an event without sleeping
    (it is also a handler that wakes the waiter on every record)."""

    def __init__(self) -> None:
        super().__init__()
        self.stream = io.StringIO()
        self.changed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.changed.set()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("event") == name]

    async def wait(self, name: str, count: int = 1) -> list[dict[str, Any]]:
        async def watch() -> list[dict[str, Any]]:
            while len(self.events(name)) < count:
                self.changed.clear()
                await self.changed.wait()
            return self.events(name)

        return await asyncio.wait_for(watch(), 10)


@pytest.fixture
async def lines() -> AsyncIterator[Lines]:
    out = Lines()
    with configure_logging(2, "json", stream=out.stream):
        logging.getLogger().addHandler(out)
        try:
            yield out
        finally:
            logging.getLogger().removeHandler(out)


def settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "url": f"memory://ops-log-{uuid.uuid4().hex[:8]}",
        "namespace": "ops",
        "timeout": 0.05,
        "check_interval": 0.05,
        "min_workers": 1,
        "max_workers": 1,
        **changes,
    }
    return Settings(**values)


async def run_four_jobs(app: App) -> None:
    for name in ("greet", "explode", "flaky", "skipped"):
        await app.task.enqueue(name, {"to": SECRET})


async def test_each_job_outcome_is_one_json_line_with_stable_fields(lines: Lines) -> None:
    async with App(settings(), tasks, name="n1") as app:
        await run_four_jobs(app)
        (success,) = await lines.wait("success")
        (failure,) = await lines.wait("failure")
        (retry,) = await lines.wait("re_enqueue")
        (skip,) = await lines.wait("skipped")
    assert success["level"] == "info" and success["logger"] == "taskcore.worker"
    assert {k: success[k] for k in ("class", "queue", "worker")} == {
        "class": "greet",
        "queue": "work",
        "worker": "n1+1",
    }
    assert isinstance(success["duration"], float) and success["ts"].endswith("Z")
    assert failure["level"] == "error"
    assert (failure["class"], failure["error"]) == ("explode", "RuntimeError: kaboom")
    assert failure["error_class"] == "RuntimeError" and "kaboom" in failure["traceback"]
    assert retry["level"] == "warning"
    assert (retry["class"], retry["error"], retry["delay"]) == (
        "flaky",
        "ValueError: try later",
        60,
    )
    assert retry["remaining_attempts"] == 1
    assert (skip["class"], skip["level"]) == ("skipped", "info")
    # payload arguments may hold personal data: not logged unless log_job_args
    assert SECRET not in lines.stream.getvalue()


async def test_log_job_args_adds_the_args_and_levels_come_from_settings(lines: Lines) -> None:
    chosen = settings(log_job_args=True, worker_logging={"success": "warning", "failure": "off"})
    async with App(chosen, tasks, name="n2") as app:
        await app.task.enqueue("explode", {"to": SECRET})
        await app.task.enqueue("greet", {"to": SECRET})
        (success,) = await lines.wait("success")
    assert success["level"] == "warning"
    assert success["args"] == [{"to": SECRET}] and success["result"] == "'hello ada@example.com'"
    assert lines.events("failure") == []


async def test_worker_and_scheduler_lifecycle_lines(lines: Lines) -> None:
    async with App(settings(), tasks, name="n3"):
        await lines.wait("leader")
        await lines.wait("start", count=2)  # the scheduler's and the worker's
    by_event = {(r["logger"], r["event"]): r for r in lines.records() if "event" in r}
    assert by_event[("taskcore.scheduler", "start")]["message"] == "scheduler n3 started"
    assert by_event[("taskcore.scheduler", "leader")]["scheduler"] == "n3"
    assert by_event[("taskcore.worker", "start")]["worker"] == "n3+1"
    assert by_event[("taskcore.worker", "end")]["message"] == "worker n3+1 stopped"
    assert by_event[("taskcore.scheduler", "end")]["message"].startswith("scheduler n3 stopped")


async def test_scheduler_promotions_one_line_per_poll_stuck_workers_and_lost_leadership(
    lines: Lines,
) -> None:
    clock = FakeClock(1_000_000.0)
    backend = connect(f"memory://ops-sched-{uuid.uuid4().hex[:8]}", namespace="ops")
    async with backend:
        scheduler = Scheduler(backend, name="s1", clock=clock, stuck_worker_timeout=60)
        SchedulerLog(SCHEDULER_LOGGING, name=lambda: "s1").attach(scheduler.on)
        for n in range(3):
            await backend.schedule(999_990, "math", encode_job("add", "math", [n]))
        await backend.schedule(999_990, "mail", encode_job("send", "mail", [1]))
        await backend.register_worker(WorkerId("dead:1", ("math",)), clock.now() - 600)
        await backend.register_worker(WorkerId("ahead:1", ("math",)), clock.now() + 600)
        assert await scheduler.poll()
        # written when the poll ends (the scheduler's poll_done), not on a later loop turn
        (promoted,) = [r for r in lines.events("transferred_job") if r["level"] == "info"]
        assert promoted["count"] == 4 and promoted["queues"] == {"math": 3, "mail": 1}
        assert promoted["message"] == "scheduler s1 promoted 4 due delayed job(s): mail 1, math 3"
        (cleaned,) = lines.events("clean_stuck_worker")
        assert (cleaned["worker"], cleaned["level"], cleaned["age"]) == ("dead:1", "warning", 600)
        (skew,) = lines.events("clock_skew")
        assert (skew["worker"], skew["level"], skew["seconds_ahead"]) == ("ahead:1", "warning", 600)
        (poll,) = lines.events("poll")
        assert (poll["level"], poll["promoted"], poll["cleaned"]) == ("debug", 4, 1)
        assert isinstance(poll["duration"], float)
        # another scheduler takes the lock: the poll that finds it says so, once
        await backend.set_lock(LEADER_LOCK, "s2", 60)
        assert not await scheduler.poll()
        assert not await scheduler.poll()
        (lost,) = lines.events("leader_lost")
        assert lost["level"] == "warning" and lost["scheduler"] == "s1"
        await backend.flush()


async def test_a_storage_outage_is_logged_once_and_its_end_once(lines: Lines) -> None:
    chosen = settings()
    server = server_for(chosen.url.removeprefix("memory://"))
    async with App(chosen, tasks, name="n4") as app:
        await lines.wait("pause")
        server.connected = False
        try:
            (down,) = await lines.wait("storage_down")
            await lines.wait("storage_error", count=2)  # still down: no new ERROR line
        finally:
            server.connected = True
        (up,) = await lines.wait("storage_up")
        await app.task.enqueue("greet", {"to": "x"})
        await lines.wait("success")
    assert (down["level"], down["logger"]) == ("error", "taskcore.storage")
    assert down["error_class"] == "BackendUnavailable"
    assert up["level"] == "warning" and up["failed_calls"] >= 3
    assert len(lines.events("storage_down")) == 1 and len(lines.events("storage_up")) == 1


def test_text_from_payloads_cannot_forge_log_lines() -> None:
    out = io.StringIO()
    tracker = OutageTracker()
    with configure_logging(0, "text", stream=out):
        tracker.error(BackendUnavailable("down\nERROR forged"), "worker x")
    assert out.getvalue().count("\n") == 1 and "down\\nERROR forged" in out.getvalue()


def test_the_library_installs_no_handler_of_its_own() -> None:
    handlers = logging.getLogger("taskcore").handlers
    assert handlers and all(isinstance(h, logging.NullHandler) for h in handlers)
