"""``taskcore worker --processes N`` on every driver shared across processes: the supervisor
starts N registered worker processes, starts another when one dies, forwards SIGTERM for a
graceful stop (a running job finishes) and gives up, exiting non-zero, when children keep
crashing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest

from conformance_tests import drivers
from conformance_tests.drivers import DriverSpec
from taskcore import codec
from taskcore.backend import Backend
from taskcore.supervisor import Supervisor


@pytest.fixture(params=drivers.pytest_params(requires="shared_across_processes"))
def driver(request: pytest.FixtureRequest) -> DriverSpec:
    """Only the drivers declaring ``shared_across_processes``: the others are not collected."""
    spec: DriverSpec = request.param
    return spec


WAIT = 60.0
"""Seconds within which processes start, register, restart or stop."""

APP_MODULE = """
from __future__ import annotations
import asyncio
from taskcore.tasks import TaskRegistry

tasks = TaskRegistry()

@tasks.task(queue="sup")
async def slow() -> str:
    print("job started", flush=True)
    await asyncio.sleep(1.0)
    return "finished"
"""


@pytest.fixture
def app_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    module = f"supapp_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(APP_MODULE)
    monkeypatch.chdir(tmp_path)
    return f"{module}:tasks"


async def worker_pids(backend: Backend) -> set[int]:
    """The pids in the registered workers' names (``host:pid+k``)."""
    return {int(w.name.split(":")[-1].split("+")[0]) for w in await backend.list_workers()}


async def until(backend: Backend, predicate: object, what: str) -> set[int]:
    """Poll the registered workers' pids until ``predicate(pids)``; processes give no event."""
    assert callable(predicate)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        pids = await worker_pids(backend)
        if predicate(pids):
            return pids
        assert loop.time() < deadline, f"timed out waiting for {what}; workers: {pids}"
        await asyncio.sleep(0.05)


@pytest.mark.timeout(180)
async def test_a_dead_worker_process_is_replaced_and_sigterm_stops_them_all_gracefully(
    backend: Backend, storage_url: str, namespace: str, app_spec: str
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "taskcore",
        "worker",
        app_spec,
        "--url",
        storage_url,
        "--namespace",
        namespace,
        "--processes",
        "2",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "TASKCORE_TIMEOUT": "0.2"},
    )
    try:
        first = await until(backend, lambda pids: len(pids) == 2, "two worker processes")
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        replaced = await until(
            backend, lambda pids: len(pids - {victim}) == 2, "a replacement process"
        )
        assert replaced - first - {victim}, "no new process was started"

        await backend.push("sup", codec.encode_job("slow", "sup", []))
        assert proc.stdout is not None
        while b"job started" not in await asyncio.wait_for(proc.stdout.readline(), WAIT):
            pass
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), WAIT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0
    assert (await backend.stats()).get("processed") == 1, "the running job did not finish"
    assert await backend.failure_count() == 0
    # only the killed process, which could not unregister, is left for the stuck-worker check
    assert await worker_pids(backend) <= {victim}


@pytest.mark.timeout(120)
async def test_children_that_keep_crashing_make_the_supervisor_exit_non_zero(
    app_spec: str,
) -> None:
    # nothing listens on port 1: every child fails at start
    argv = ["worker", app_spec, "--url", "redis://127.0.0.1:1/0", "--processes", "1"]
    supervisor = Supervisor(argv, 2, max_restarts=3, restart_window=60.0, restart_delay=0.01)
    code = await asyncio.wait_for(supervisor.run(), WAIT)
    assert code == 1
    assert supervisor.restarts >= 2
    assert all(child.returncode not in (None, 0) for child in supervisor.children.values())
