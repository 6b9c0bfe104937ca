"""Durations take a timedelta everywhere (issue 9 "Units"): health thresholds, FakeClock.advance,
Task.frequency/timeout, both at run time and under mypy --strict."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import durations_example
import pytest
from mypy import api as mypy_api

from taskcore.clock import FakeClock
from taskcore.codec import encode_job
from taskcore.config import Settings
from taskcore.errors import ConfigError
from taskcore.ops.health import HealthChecker
from taskcore.queue import Queue
from taskcore.registry import connect

EXAMPLE = Path(durations_example.__file__)
REPOSITORY = Path(__file__).resolve().parent.parent


def test_a_users_timedelta_durations_type_check_under_mypy_strict(tmp_path: Path) -> None:
    out, err, status = mypy_api.run(
        [
            "--strict",
            "--python-version",
            "3.11",
            "--config-file",
            str(REPOSITORY / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "mypy_cache"),
            str(EXAMPLE),
        ]
    )
    assert status == 0, out + err


def test_task_durations_given_as_timedeltas_are_seconds() -> None:
    task = durations_example.Report()
    assert (task.frequency_seconds, task.timeout_seconds, task.is_periodic) == (300.0, 30.0, True)
    assert durations_example.Report(frequency=90, timeout=None).frequency_seconds == 90.0
    with pytest.raises(ConfigError, match="frequency must be a number of seconds >= 0"):
        durations_example.Report(frequency=timedelta(seconds=-5))


def test_health_thresholds_take_timedeltas_and_store_seconds() -> None:
    health = durations_example.health
    assert (health.age_warn, health.round_trip_warn, health.timeout) == (300.0, 0.25, 2.0)
    assert health.delayed_overdue_warn == 60.0 and health.limits_for("mail").age_fail == 3600.0
    # through Settings, as a mapping in code
    assert Settings(health={"timeout": timedelta(seconds=3)}).health.timeout == 3.0
    with pytest.raises(ConfigError, match=r"health\.timeout"):
        Settings(health={"timeout": timedelta(0)})  # must be > 0 seconds


async def test_fake_clock_advances_by_a_timedelta() -> None:
    clock = FakeClock(1000.0)
    woke = asyncio.ensure_future(clock.sleep(90))
    await asyncio.sleep(0)
    clock.advance(timedelta(minutes=1))
    assert clock.now() == 1060.0 and not woke.done()
    clock.advance(timedelta(seconds=30))
    await asyncio.wait_for(woke, 10)
    with pytest.raises(ValueError, match="cannot go backwards"):
        clock.advance(timedelta(seconds=-1))
    assert clock.now() == 1090.0


async def test_a_queue_age_threshold_given_as_a_timedelta_applies_in_seconds() -> None:
    backend = connect(f"memory://ops-units-{uuid.uuid4().hex[:8]}", namespace="ops")
    async with backend:
        await backend.push("mail", encode_job("Send", "mail", [1]))
        clock = FakeClock(1_000_000.0)
        settings = Settings(min_workers=0, health={"age_warn": timedelta(minutes=5)})
        checker = HealthChecker(settings, clock=clock)
        queue = Queue(backend, clock=clock)
        assert (await checker.check(queue)).status == "warn"  # only: no leader
        clock.advance(timedelta(minutes=5, seconds=1))
        report = await checker.check(queue)
        assert "queue mail: the job at its head has waited at least 301 s" in report.reasons
        await backend.flush()
