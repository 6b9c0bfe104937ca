"""``taskcore health``: the verdict and its exit code (0 ok, 1 warn, 2 fail) on every driver.

Each test sets up storage through the backend, then runs the real command line (in a thread:
it runs its own event loop) against the same storage and namespace.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from conformance_tests.drivers import DriverSpec
from taskcore.backend import Backend, WorkerId
from taskcore.cli import main
from taskcore.clock import FakeClock
from taskcore.codec import encode_job
from taskcore.config import Settings
from taskcore.ops.health import STATE_KEY, HealthChecker
from taskcore.queue import LEADER_LOCK, Queue


async def health(
    capsys: pytest.CaptureFixture[str], url: str, namespace: str, *extra: str
) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = await asyncio.to_thread(
        main, ["--url", url, "--namespace", namespace, "health", "--json", *extra]
    )
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, report


async def healthy(backend: Backend) -> None:
    """A leader, one worker that just pinged, a short queue."""
    assert await backend.acquire_lock(LEADER_LOCK, "scheduler-1", 60)
    await backend.register_worker(WorkerId("host:1", ("math",)), time.time())
    await backend.push("math", encode_job("add", "math", [1, 2]))


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in report["checks"] if c["name"] == name]
    assert found, f"no check {name!r} in {report['checks']}"
    return found[0]


async def test_a_healthy_system_exits_0(
    backend: Backend, storage_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await healthy(backend)
    code, report = await health(capsys, storage_url, namespace)
    assert (code, report["status"], report["reasons"]) == (0, "ok", [])
    assert check(report, "leader")["value"] == "scheduler-1"
    assert check(report, "workers")["value"] == 1
    assert check(report, "queue:math")["value"] == 1
    assert report["round_trip"] is not None and report["round_trip"] >= 0


async def test_no_scheduler_leader_warns_and_exits_1(
    backend: Backend, storage_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await healthy(backend)
    assert await backend.release_lock(LEADER_LOCK)
    code, report = await health(capsys, storage_url, namespace)
    assert (code, report["status"]) == (1, "warn")
    assert check(report, "leader")["status"] == "warn"
    assert report["reasons"] == ["no scheduler holds the leader lock: delayed jobs wait"]


async def test_a_stuck_worker_warns_and_names_it(
    backend: Backend, storage_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await healthy(backend)
    # last ping two hours ago; the default stuck_worker_timeout is one hour
    await backend.register_worker(WorkerId("dead:9", ("math",)), time.time() - 7200)
    code, report = await health(capsys, storage_url, namespace)
    assert (code, report["status"]) == (1, "warn")
    stuck = check(report, "stuck")
    assert stuck["value"] == 1 and "dead:9" in stuck["message"]
    assert check(report, "workers")["value"] == 1  # the live one still counts


async def test_a_queue_over_its_fail_threshold_exits_2(
    backend: Backend,
    storage_url: str,
    namespace: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await healthy(backend)
    for n in range(3):
        await backend.push("mail", encode_job("send", "mail", [n]))
    monkeypatch.setenv("TASKCORE_HEALTH__LENGTH_FAIL", "3")
    code, report = await health(capsys, storage_url, namespace)
    assert (code, report["status"]) == (2, "fail")
    assert check(report, "queue:mail")["status"] == "fail"
    assert check(report, "queue:math")["status"] == "ok"  # 1 job, under the threshold
    assert report["reasons"] == ["queue mail: 3 waiting"]


async def test_failed_list_growth_between_two_checks_warns(
    backend: Backend, storage_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await healthy(backend)
    assert (await health(capsys, storage_url, namespace))[0] == 0
    await backend.push_failure(json.dumps({"queue": "math", "payload": {}, "error": "x"}))
    code, report = await health(capsys, storage_url, namespace)
    assert code == 1
    assert check(report, "failed")["message"] == "1 failed job(s), 1 new since the previous check"
    # the next check compares with this one: no new failure, healthy again
    assert (await health(capsys, storage_url, namespace))[0] == 0


async def test_unreachable_storage_fails_with_exit_2(
    driver: DriverSpec, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if driver.unreachable_url is None:
        pytest.skip("an in-process driver has no server that can be unreachable")
    code, report = await health(capsys, driver.unreachable_url(), namespace)
    assert (code, report["status"]) == (2, "fail")
    assert [c["name"] for c in report["checks"]] == ["storage"]
    assert report["reasons"][0].startswith("storage ")


async def test_read_only_checks_leave_the_probes_failed_growth_window(
    backend: Backend, storage_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await healthy(backend)
    assert (await health(capsys, storage_url, namespace))[0] == 0  # the probe records 0 failed
    await backend.push_failure(json.dumps({"queue": "math", "payload": {}, "error": "x"}))
    reader = HealthChecker(Settings())
    for _ in range(3):  # a dashboard refreshing: each sees the growth, none records it
        report = await reader.check(Queue(backend), record=False)
        assert report.status == "warn"
        assert report.reasons == ["1 failed job(s), 1 new since the previous check"]
    # the next probe still compares with the previous probe, not with the dashboard's reads
    code, probed = await health(capsys, storage_url, namespace)
    assert (code, probed["reasons"]) == (1, ["1 failed job(s), 1 new since the previous check"])
    assert (await health(capsys, storage_url, namespace))[0] == 0


async def test_a_read_only_check_ages_a_queue_head_from_the_probes_record(
    backend: Backend,
) -> None:
    await healthy(backend)
    clock = FakeClock(time.time())
    settings = Settings(min_workers=0)
    probe, reader = HealthChecker(settings, clock=clock), HealthChecker(settings, clock=clock)
    assert (await probe.check(Queue(backend))).status == "ok"  # head of 'math' first seen now
    stored = await backend.get_lock(STATE_KEY)
    clock.advance(400)  # over the default age_warn of 300 s
    report = await reader.check(Queue(backend), record=False)
    assert report.reasons == ["queue math: the job at its head has waited at least 400 s"]
    await backend.push("mail", encode_job("send", "mail", [1]))  # a head no probe has seen
    report = await reader.check(Queue(backend), record=False)
    assert "age:mail" not in [c.name for c in report.checks]
    assert await backend.get_lock(STATE_KEY) == stored  # nothing written by the reader
