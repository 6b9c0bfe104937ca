"""Workers in separate OS processes share one storage: no job runs twice, none is lost.

Runs on every driver whose storage is shared across processes (``shared_across_processes``):
eight worker processes drain 20,000 jobs, are stopped with SIGTERM (graceful shutdown), and
every job id must have run exactly once, with the counters and the workers' records agreeing.
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
from conformance_tests.fixtures import BackendFactory
from taskcore import codec
from taskcore.backend import Backend


@pytest.fixture(params=drivers.pytest_params(requires="shared_across_processes"))
def driver(request: pytest.FixtureRequest) -> DriverSpec:
    """Only the drivers declaring ``shared_across_processes``: the others are not collected."""
    spec: DriverSpec = request.param
    return spec


JOBS = 20_000
PROCESSES = 8
REPO = Path(__file__).resolve().parent.parent


async def _enqueue(backends: list[Backend]) -> None:
    async def fill(backend: Backend, ids: range) -> None:
        for i in ids:
            await backend.push("drain", codec.encode_job("record", "drain", [i]))

    share = JOBS // len(backends)
    await asyncio.gather(
        *(fill(b, range(n * share, (n + 1) * share)) for n, b in enumerate(backends))
    )


@pytest.mark.requires_capability("shared_across_processes")
@pytest.mark.timeout(600)
async def test_eight_processes_drain_20000_jobs_exactly_once(
    backend: Backend, backend_factory: BackendFactory, storage_url: str, namespace: str
) -> None:
    producers = [backend, *[await backend_factory() for _ in range(3)]]
    await _enqueue(producers)
    assert await backend.queue_length("drain") == JOBS

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "conformance_tests.process_worker",
            storage_url,
            namespace,
            f"proc-{n}",
            env=env,
            cwd=REPO,
        )
        for n in range(PROCESSES)
    ]
    try:
        # Cross-process progress can only be observed in storage: check it every 200 ms.
        deadline = time.monotonic() + 480
        while await backend.queue_length("done") < JOBS:
            assert time.monotonic() < deadline, "the workers did not drain the queue in time"
            assert all(p.returncode is None for p in procs), "a worker process died"
            await asyncio.sleep(0.2)
    finally:
        for p in procs:
            if p.returncode is None:
                p.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(p.wait(), 60) for p in procs]
    assert codes == [0] * PROCESSES

    done = [int(x) for x in await backend.queue_range("done", 0, -1)]
    assert len(done) == JOBS, "a job ran more than once"
    assert sorted(done) == list(range(JOBS)), "a job was lost or ran twice"
    assert await backend.queue_length("drain") == 0
    stats = await backend.stats()
    assert stats.get("processed") == JOBS
    assert stats.get("failed", 0) == 0
    assert await backend.list_workers() == [], "a worker did not unregister on SIGTERM"
    assert await backend.failure_count() == 0
