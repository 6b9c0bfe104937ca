"""Engine interop with node-resque 9 on one Redis namespace: each side's scheduler promotes the
other's delayed jobs and cleans the other's dead workers.

node cannot reach an in-process server, so these tests always use the real Redis of
:func:`conformance_tests.servers.redis_url` (the ``driver`` fixture is pinned to it) and run
only where the driver declares the resque wire format.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

import pytest

from conformance_tests import servers
from conformance_tests.drivers import DRIVERS, DriverSpec
from conformance_tests.engine_support import EventLog
from taskcore import codec
from taskcore.backend import Backend, WorkerId
from taskcore.clock import FakeClock
from taskcore.jobs import Jobs
from taskcore.queue import Queue
from taskcore.scheduler import Scheduler
from taskcore.worker import Worker

pytestmark = [
    pytest.mark.node,
    pytest.mark.redis,
    pytest.mark.requires_capability("resque_wire_format"),
]

HOUR_MS = 3_600_000


@pytest.fixture
def driver() -> DriverSpec:
    """The real-Redis driver: node-resque must reach the same server."""
    return next(spec for spec in DRIVERS if spec.url is servers.redis_url)


async def node(backend: Backend, script: str, *args: str, timeout: float = 60.0) -> Any:
    """Run a ``conformance_tests/node`` script on the test's namespace (in a thread)."""
    return await asyncio.to_thread(
        servers.run_node_script,
        script,
        *args,
        url=servers.redis_url(),
        namespace=backend.namespace,
        timeout=timeout,
    )


async def test_node_scheduler_promotes_taskcore_delayed_jobs(backend: Backend) -> None:
    queue = Queue(backend)
    due_ms = int(time.time() * 1000) - 2000
    await queue.enqueue_at(due_ms, "math", "add", [1, 2])
    await queue.enqueue_in(HOUR_MS, "math", "add", [3, 4])

    result = await node(backend, "scheduler.js", "--name", "node-scheduler")

    assert result["leader"] is True
    assert [t["job"] for t in result["transferred"]] == [
        {"class": "add", "queue": "math", "args": [1, 2]}
    ]
    assert await queue.queued("math") == [codec.Job("add", "math", [1, 2])]
    assert len(await queue.timestamps()) == 1  # the future job stays delayed
    # and a taskcore worker works what node promoted
    worker = Worker(backend, Jobs({"add": lambda a, b: a + b}), queues=["math"], name="py:1")
    log = EventLog(worker)
    assert await worker.work_one()
    assert log.args("success")[0][2] == 3


async def test_node_scheduler_cleans_a_dead_taskcore_worker(backend: Backend) -> None:
    # What a taskcore Worker writes at start and at reserve, two hours ago, then nothing:
    # the process died with the job in hand.
    old = time.time() - 2 * 3600
    dead = WorkerId("py-host:4242", ("math",))
    await backend.register_worker(dead, old)
    await Queue(backend).enqueue("math", "add", [1, 2])
    assert await backend.reserve(["math"], dead, old) is not None

    result = await node(
        backend, "scheduler.js", "--name", "node-scheduler", "--stuck-worker-timeout", str(HOUR_MS)
    )

    assert [c["worker"] for c in result["cleaned"]] == ["py-host:4242"]
    (failure,) = await Queue(backend).failed()
    assert failure.job == codec.Job("add", "math", [1, 2])
    assert failure.backtrace is not None and failure.backtrace[1] == "queue#forceCleanWorker"
    assert dead not in await backend.list_workers()
    assert await backend.worker_pings() == []

    # taskcore's retry of stuck jobs understands node's failure record
    assert await Queue(backend).retry_stuck_jobs() == 1
    assert await Queue(backend).queued("math") == [codec.Job("add", "math", [1, 2])]


async def test_taskcore_scheduler_promotes_node_delayed_jobs(backend: Backend) -> None:
    due_ms = int(time.time() * 1000) - 2000
    await node(
        backend,
        "queue-call.js",
        "--method",
        "enqueueAt",
        "--args",
        f'[{due_ms},"math","add",[1,2]]',
    )
    await node(
        backend, "queue-call.js", "--method", "enqueueIn", "--args", f'[{HOUR_MS},"math","add",[3]]'
    )
    scheduler = Scheduler(backend, name="py-scheduler")
    log = EventLog(scheduler)

    assert await scheduler.poll()
    await scheduler.end()

    assert [job for _, job in log.args("transferred_job")] == [codec.Job("add", "math", [1, 2])]
    seen = await node(backend, "inspect.js")
    assert seen["queued"]["math"] == [{"class": "add", "queue": "math", "args": [1, 2]}]
    assert len(seen["timestamps"]) == 1  # node still sees the future job, and only it
    assert seen["leader"] is None  # the taskcore scheduler released its lock on end
    # node works what taskcore promoted
    worked = await node(backend, "worker.js", "--queues", "math", "--count", "1")
    assert [(r["event"], r["result"]) for r in worked["results"]] == [("success", 3)]


async def test_taskcore_scheduler_cleans_a_dead_node_worker(backend: Backend) -> None:
    await Queue(backend).enqueue("math", "sleep", [60_000])
    # The node worker takes the minute-long job and is killed (SIGKILL) mid-job.
    with pytest.raises(subprocess.TimeoutExpired):
        await node(backend, "worker.js", "--queues", "math", "--name", "node-host:77", timeout=5)
    (working,) = [w for w, job in (await backend.current_jobs()).items() if job is not None]
    assert working.name == "node-host:77"

    clock = FakeClock(time.time() + 2 * 3600)
    scheduler = Scheduler(
        backend,
        name="py-scheduler",
        clock=clock,
        stuck_worker_timeout=3600.0,
        queue=Queue(backend, clock=clock),
    )
    log = EventLog(scheduler)
    await scheduler.poll()
    await scheduler.end()

    ((name, failures, age),) = log.args("clean_stuck_worker")
    assert name == "node-host:77" and age > 3600
    (failure,) = failures
    assert failure.exception == "Worker Timeout (killed manually)"
    assert failure.job == codec.Job("sleep", "math", [60_000])
    seen = await node(backend, "inspect.js")
    assert seen["workers"] == {}
    assert seen["allWorkingOn"] == {}
    assert seen["failedCount"] == 1
    assert seen["failed"][0]["payload"] == {"class": "sleep", "queue": "math", "args": [60000]}


# ---------------------------------------------------------------- jobs across the two engines


async def drain(worker: Worker, log: EventLog) -> None:
    """Start ``worker`` on jobs queued beforehand and return once it has recorded every one.

    The first ``pause`` comes after the outcome of the last job was written: the worker records
    an outcome in the same storage call that finds the queues empty.
    """
    await worker.start()
    await log.wait_for("pause")


async def test_taskcore_worker_performs_node_jobs_in_priority_order(backend: Backend) -> None:
    nested = {"user": {"name": "Zoë", "tags": ["ß", "日本"]}, "path": "/var/tmp"}
    batch = [
        {"queue": "low", "class": "echo", "args": ["low-1"]},
        {"queue": "mail/eu", "class": "echo", "args": ["a/b", nested, 3.5, None, True]},
        {"queue": "low", "class": "explode", "args": ["bad ünïcode/input"]},
        {"queue": "critical", "class": "echo", "args": [{"k": "✓"}]},
        {"queue": "low", "class": "echo", "args": ["low-2"]},
    ]
    enqueued = await node(backend, "enqueue.js", "--batch", codec.dumps(batch))
    assert enqueued["results"] == [True] * len(batch)

    performed: list[list[Any]] = []

    def echo(*args: Any) -> int:
        performed.append(list(args))
        return len(args)

    def explode(message: str) -> None:
        performed.append([message])
        raise ValueError(message)

    worker = Worker(
        backend,
        Jobs({"echo": echo, "explode": explode}),
        queues=["critical", "mail/eu", "low"],
        name="py-interop:1",
        timeout=0.1,
    )
    log = EventLog(worker)
    await drain(worker, log)
    try:
        # strict priority: every reservation starts again from the first queue
        assert performed == [
            [{"k": "✓"}],
            ["a/b", nested, 3.5, None, True],
            ["low-1"],
            ["bad ünïcode/input"],
            ["low-2"],
        ]
        seen = await node(backend, "inspect.js")
    finally:
        await worker.end()

    assert seen["stats"]["processed"] == "4"
    assert seen["stats"]["failed"] == "1"
    assert seen["stats"]["processed:py-interop:1"] == "4"
    assert seen["lengths"] == {"critical": 0, "low": 0, "mail/eu": 0}
    assert seen["workers"] == {"py-interop:1": "critical,mail/eu,low"}
    assert seen["allWorkingOn"] == {"py-interop:1": "started"}
    assert seen["failedCount"] == 1
    (failure,) = seen["failed"]
    assert failure["payload"] == {"class": "explode", "queue": "low", "args": ["bad ünïcode/input"]}
    assert failure["worker"] == "py-interop:1"
    assert failure["queue"] == "low"
    assert failure["exception"] == "ValueError"
    assert failure["error"] == "bad ünïcode/input"
    assert failure["backtrace"][0] == "Traceback (most recent call last):"
    assert failure["backtrace"][-1] == "ValueError: bad ünïcode/input"
    assert codec.parse_date(failure["failed_at"]) is not None


async def test_node_worker_performs_taskcore_jobs(backend: Backend) -> None:
    queue = Queue(backend)
    await queue.enqueue("math", "add", [1, 2])
    await queue.enqueue_in(60_000, "math", "echo", [{"msg": "grüße/1"}, "x"])
    await queue.enqueue("math", "fail", ["kaputt ✗"])
    clock = FakeClock(time.time() + 120)  # past the delayed job's due time, without waiting
    scheduler = Scheduler(
        backend, name="py-scheduler", clock=clock, stuck_worker_timeout=None, queue=queue
    )
    assert await scheduler.poll()
    await scheduler.end()

    worked = await node(
        backend, "worker.js", "--queues", "math", "--count", "3", "--name", "node-interop:1"
    )

    assert worked["errors"] == []
    assert [(r["event"], r["job"]["class"]) for r in worked["results"]] == [
        ("success", "add"),
        ("failure", "fail"),
        ("success", "echo"),  # promoted to the tail after the two queued jobs
    ]
    assert worked["results"][0]["result"] == 3
    assert worked["results"][1]["error"] == "Error: kaputt ✗"
    assert worked["results"][2]["result"] == [{"msg": "grüße/1"}, "x"]

    stats = await queue.stats()
    assert (stats["processed"], stats["failed"]) == (2, 1)
    (failure,) = await queue.failed()
    assert failure.job == codec.Job("fail", "math", ["kaputt ✗"])
    assert (failure.worker, failure.queue) == ("node-interop:1", "math")
    assert (failure.exception, failure.error) == ("Error", "kaputt ✗")
    # node-resque stores the stack without its message line
    assert failure.backtrace is not None and failure.backtrace[0].lstrip().startswith("at ")
    assert codec.parse_date(failure.failed_at) is not None
    # node's record is matched byte for byte: taskcore can retry it
    assert await queue.retry_and_remove_failed(failure)
    assert await queue.failed_count() == 0
    assert await queue.queued("math") == [codec.Job("fail", "math", ["kaputt ✗"])]
