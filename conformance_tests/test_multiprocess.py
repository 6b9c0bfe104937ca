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
from taskcore.queue import Queue
from taskcore.worker import Worker


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


KILLED_JOBS = 2_000


@pytest.mark.requires_capability("shared_across_processes")
@pytest.mark.timeout(300)
async def test_a_pool_process_killed_mid_drain_loses_no_job(
    backend: Backend, storage_url: str, namespace: str
) -> None:
    """SIGKILL a process whose eight workers share one backend, mid-drain: every job it held
    (on PostgreSQL, reserved for several workers by one shared statement) is in its workers'
    current-job records, and cleaning them (as a scheduler's stuck-worker pass does) moves each
    to the failed list. Every job ends up run or failed, none lost."""
    await backend.push_many(
        [("drain", codec.encode_job("record", "drain", [i])) for i in range(KILLED_JOBS)]
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "conformance_tests.process_worker",
        storage_url,
        namespace,
        "pool-victim",
        "8",
        env=env,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 120
        while await backend.queue_length("done") < KILLED_JOBS // 4:
            assert time.monotonic() < deadline, "the pool did not start draining in time"
            assert proc.returncode is None, "the pool process died by itself"
            await asyncio.sleep(0.05)
    finally:
        proc.kill()
        await proc.wait()

    queue = Queue(backend)
    for w in await backend.list_workers():  # the dead process's workers, all of them
        await queue.force_clean_worker(w.name)
    survivor = Worker(backend, {"record": _Recorder(backend)}, queues=["drain"], name="after:1")
    await survivor.start()
    try:
        deadline = time.monotonic() + 120
        while await backend.queue_length("drain") > 0:
            assert time.monotonic() < deadline, "the rest was not drained in time"
            await asyncio.sleep(0.05)
    finally:
        await survivor.end()
    # A statement the dead process sent just before it died may have run after the first
    # cleaning (the server finishes it): its workers hold jobs again. Clean them as well.
    for w in await backend.list_workers():
        await queue.force_clean_worker(w.name)

    done = {int(x) for x in await backend.queue_range("done", 0, -1)}
    failed = {codec.decode_failure(r).job.args[0] for r in await backend.failures(0, -1)}
    assert done | failed == set(range(KILLED_JOBS)), "a job was lost"
    assert await backend.list_workers() == []


class _Recorder:
    """The ``record`` job of ``process_worker``, run in this process."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def __call__(self, i: int) -> None:
        await self.backend.push("done", codec.dumps(i))
