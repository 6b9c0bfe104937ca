"""SIGTERM/SIGINT against real worker processes: the stop is never skipped, only shortened.

A worker (or an App) runs in its own OS process (``conformance_tests/process_signals.py``) on a
storage shared across processes; the test sends it signals and reads the outcome from storage:
the job it was running is in the failed list, the worker is unregistered, and the process exits
promptly instead of waiting for the job.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from conformance_tests import drivers
from conformance_tests.drivers import DriverSpec
from taskcore import codec
from taskcore.backend import Backend


@pytest.fixture(params=drivers.pytest_params(requires="shared_across_processes"))
def driver(request: pytest.FixtureRequest) -> DriverSpec:
    """Only the drivers declaring ``shared_across_processes``: the others are not collected."""
    spec: DriverSpec = request.param
    return spec


REPO = Path(__file__).resolve().parent.parent
PROMPT = 10.0
"""Seconds within which a stopped process must have exited (its job would run for 30 s)."""


async def spawn(mode: str, url: str, namespace: str, deadline: float) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "conformance_tests.process_signals",
        mode,
        url,
        namespace,
        "sig:1",
        str(deadline),
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )


async def started_job(proc: asyncio.subprocess.Process) -> str:
    """Wait for the process to announce that its job runs; returns the job's class."""
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert line.startswith(b"job "), f"the process ended before running its job: {line!r}"
    return line.decode().split()[1]


async def stop(proc: asyncio.subprocess.Process, signals: int) -> float:
    """Send ``signals`` SIGTERMs (0.2 s apart) and return the seconds until the process exited."""
    began = time.monotonic()
    for n in range(signals):
        if n:
            await asyncio.sleep(0.2)  # a second signal, as an impatient operator sends it
        proc.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(proc.wait(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0, f"the process did not stop cleanly (exit code {code})"
    return time.monotonic() - began


async def assert_recorded_and_unregistered(backend: Backend, class_name: str) -> None:
    (failure,) = [codec.decode_failure(r) for r in await backend.failures(0, -1)]
    assert failure.job.class_name == class_name
    assert failure.exception == "ShutdownDeadlineExceeded"
    assert await backend.list_workers() == []
    assert await backend.worker_pings() == []
    assert await backend.current_jobs() == {}
    assert (await backend.stats()).get("processed", 0) == 0


@pytest.mark.timeout(120)
async def test_a_sync_job_past_the_shutdown_deadline_does_not_hold_the_process(
    backend: Backend, storage_url: str, namespace: str
) -> None:
    # A plain function sleeping 30 s runs in a thread Python cannot interrupt. With
    # shutdown_timeout=1 the job is recorded as failed at the deadline and the process exits
    # then, instead of waiting for the thread (it used to: 29 s against a 1 s deadline).
    await backend.push("slow", codec.encode_job("sleep_sync", "slow", []))
    proc = await spawn("worker", storage_url, namespace, deadline=1.0)
    assert await started_job(proc) == "sleep_sync"
    took = await stop(proc, signals=1)
    assert took < PROMPT, f"the process waited {took:.1f} s for a thread past its deadline"
    await assert_recorded_and_unregistered(backend, "sleep_sync")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["worker", "app"])
async def test_a_second_signal_cancels_the_job_now_and_still_records_it(
    backend: Backend, storage_url: str, namespace: str, mode: str
) -> None:
    # The first SIGTERM asks for a graceful stop (the job may take 60 s to finish); the second
    # one shortens it: the job is cancelled at once, recorded as failed, the worker unregistered.
    # It used to do nothing (Worker) or kill the process on the spot (App), leaving the job in
    # the current-job record and the worker registered.
    class_name = "sleep_async" if mode == "worker" else "app_sleep_async"
    await backend.push("slow", codec.encode_job(class_name, "slow", []))
    proc = await spawn(mode, storage_url, namespace, deadline=60.0)
    assert await started_job(proc) == class_name
    took = await stop(proc, signals=2)
    assert took < PROMPT, f"the second signal did not shorten the stop ({took:.1f} s)"
    await assert_recorded_and_unregistered(backend, class_name)


@pytest.mark.timeout(120)
async def test_a_third_signal_does_not_skip_the_recording_either(
    backend: Backend, storage_url: str, namespace: str
) -> None:
    # The cancelled job takes 2 s to tidy up, so the third signal lands while the stop that
    # the second one shortened is still in progress: it must not kill the process.
    await backend.push("slow", codec.encode_job("sleep_async", "slow", [30, 2]))
    proc = await spawn("worker", storage_url, namespace, deadline=60.0)
    assert await started_job(proc) == "sleep_async"
    took = await stop(proc, signals=3)
    assert took < PROMPT
    await assert_recorded_and_unregistered(backend, "sleep_async")
