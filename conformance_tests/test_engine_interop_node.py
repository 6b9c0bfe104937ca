"""Engine interop with node-resque 9 on one Redis namespace: each side's scheduler promotes the
other's delayed jobs and cleans the other's dead workers; each side's worker performs the jobs
the other enqueued and the other reads the stats and failures it recorded; the Retry plugin's
counter and last error written by one side are continued by the other; Actionhero-shaped task
payloads (``args[0]`` is the inputs object) are worked in both directions.

node cannot reach an in-process server, so these tests always use the real Redis of
:func:`conformance_tests.servers.redis_url` (the ``driver`` fixture is pinned to it) and run
only where the driver declares the resque wire format.
"""

from __future__ import annotations

import asyncio
import json
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
from taskcore.errors import ValidationError
from taskcore.jobs import Jobs
from taskcore.plugins.retry import args_key
from taskcore.queue import Queue
from taskcore.scheduler import Scheduler
from taskcore.tasks import TaskAPI, TaskRegistry
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


# ---------------------------------------------------------------- Retry state shared by both

RETRY_ARGS: list[Any] = ["boom", {"id": 7, "tag": "café/ü"}]
RETRY_NODE_OPTIONS = '{"retryLimit": 3, "retryDelay": 1000}'


class RetryRun:
    """One ``fail`` job with Retry (3 attempts in all, 1000 ms apart) on both engines.

    Promotion of a re-enqueued attempt goes through a taskcore Scheduler on a clock an hour
    ahead, so no test waits for the retry delay.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        jobs = Jobs()

        @jobs.register(
            "fail",
            plugins=["Retry"],
            plugin_options={"Retry": {"retry_limit": 3, "retry_delay": 1000}},
        )
        def fail(message: str, _detail: Any) -> None:
            raise RuntimeError(message)

        self.worker = Worker(backend, jobs, queues=["retry"], name="py-retry", timeout=0.1)
        self.log = EventLog(self.worker)

    async def python_attempt(self) -> None:
        assert await self.worker.work_one()

    async def node_attempt(self) -> dict[str, Any]:
        worked: dict[str, Any] = await node(
            self.backend,
            "worker.js",
            "--queues",
            "retry",
            "--name",
            "node-retry",
            "--retry",
            RETRY_NODE_OPTIONS,
        )
        assert worked["errors"] == []
        return worked

    async def promote(self) -> None:
        clock = FakeClock(time.time() + 3600)
        scheduler = Scheduler(
            self.backend, name="py-scheduler", clock=clock, stuck_worker_timeout=None
        )
        log = EventLog(scheduler)
        await scheduler.poll()
        await scheduler.end()
        assert [job for _, job in log.args("transferred_job")] == [
            codec.Job("fail", "retry", RETRY_ARGS)
        ]

    async def node_view(self) -> dict[str, Any]:
        """The retry state as node-resque's Retry plugin addresses it."""
        state: dict[str, Any] = await node(
            self.backend,
            "retry-state.js",
            "--queue",
            "retry",
            "--class",
            "fail",
            "--args",
            codec.dumps(RETRY_ARGS),
        )
        return state

    async def python_view(self) -> tuple[str | None, dict[str, Any] | None]:
        """(attempt counter, parsed last error) under taskcore's Retry key names."""
        key = args_key(RETRY_ARGS)
        counter = await self.backend.get_lock(f"resque-retry:fail:{key}")
        last = await self.backend.get_lock(f"failure-resque-retry:fail:{key}")
        return counter, None if last is None else json.loads(last)


async def test_retry_state_written_by_node_is_continued_by_taskcore(backend: Backend) -> None:
    run = RetryRun(backend)
    await Queue(backend).enqueue("retry", "fail", RETRY_ARGS)

    first = await run.node_attempt()
    assert [(r["remainingAttempts"], r["delay"]) for r in first["reEnqueued"]] == [(2, 1000)]
    counter, last = await run.python_view()
    assert counter == "0"  # node's first failure, read under taskcore's key names
    assert last is not None
    assert (last["exception"], last["worker"], last["queue"]) == ("Error: boom", "fail", "retry")
    assert last["payload"] == RETRY_ARGS

    await run.promote()
    await run.python_attempt()
    # taskcore continued node's count: 3 - (0 + 1) - 1 = 1 attempt left, so no failure yet
    ((_, job, info),) = run.log.args("re_enqueue")
    assert job == codec.Job("fail", "retry", RETRY_ARGS)
    assert info["remaining_attempts"] == 1
    assert run.log.args("failure") == []
    seen = await run.node_view()
    assert seen["retryKey"] == f"{backend.namespace}:resque-retry:fail:{args_key(RETRY_ARGS)}"
    assert seen["attempts"] == "1"
    assert seen["lastError"]["exception"] == "RuntimeError: boom"
    assert seen["lastError"]["payload"] == RETRY_ARGS
    assert (seen["lastError"]["worker"], seen["lastError"]["queue"]) == ("fail", "retry")
    # Both sides give the keys a TTL. The values differ on purpose: node-resque uses the
    # 1000 ms delay as 1000 s (its TTL bug); taskcore uses ceil(1000 ms) + 3600 s.
    assert seen["attemptsTtl"] > 1000 and seen["lastErrorTtl"] > 1000

    await run.promote()
    final = await run.node_attempt()
    # node read taskcore's counter: its third attempt is the last, a normal failure
    assert final["reEnqueued"] == []
    assert [(r["event"], r["error"]) for r in final["results"]] == [("failure", "Error: boom")]
    assert await run.python_view() == (None, None)

    (failure,) = await Queue(backend).failed()
    assert (failure.worker, failure.exception, failure.error) == ("node-retry", "Error", "boom")
    assert failure.job == codec.Job("fail", "retry", RETRY_ARGS)
    inspected = await node(backend, "inspect.js")
    assert inspected["failedCount"] == 1
    assert inspected["failed"][0]["payload"] == {
        "class": "fail",
        "queue": "retry",
        "args": RETRY_ARGS,
    }
    assert inspected["timestamps"] == [] and inspected["lengths"] == {"retry": 0}
    # three failed attempts, none processed (node's Retry nets its "success" out)
    assert (inspected["stats"]["failed"], inspected["stats"]["processed"]) == ("3", "0")


async def test_retry_state_written_by_taskcore_is_continued_by_node(backend: Backend) -> None:
    run = RetryRun(backend)
    await Queue(backend).enqueue("retry", "fail", RETRY_ARGS)

    await run.python_attempt()
    ((_, _, info),) = run.log.args("re_enqueue")
    assert info["remaining_attempts"] == 2
    seen = await run.node_view()
    assert seen["attempts"] == "0"  # taskcore's first failure, found by node's key names
    assert seen["lastError"]["exception"] == "RuntimeError: boom"
    assert seen["attemptsTtl"] > 0 and seen["lastErrorTtl"] > 0

    await run.promote()
    second = await run.node_attempt()
    # node continued taskcore's count: one attempt left (it would say 2 on a fresh counter)
    assert [r["remainingAttempts"] for r in second["reEnqueued"]] == [1]
    counter, last = await run.python_view()
    assert counter == "1"
    assert last is not None and last["exception"] == "Error: boom"
    # node-resque's TTL bug: the 1000 ms retry delay becomes a TTL of 1000 s (not 1 s)
    assert 0 < (await run.node_view())["attemptsTtl"] <= 1000

    await run.promote()
    await run.python_attempt()
    # taskcore read node's counter: its third attempt is the last, a recorded failure
    assert len(run.log.args("re_enqueue")) == 1
    ((queue, job, error, _),) = run.log.args("failure")
    assert (queue, job) == ("retry", codec.Job("fail", "retry", RETRY_ARGS))
    assert isinstance(error, RuntimeError)
    assert await run.python_view() == (None, None)

    inspected = await node(backend, "inspect.js")
    assert inspected["failedCount"] == 1
    (failure,) = inspected["failed"]
    assert failure["payload"] == {"class": "fail", "queue": "retry", "args": RETRY_ARGS}
    assert (failure["worker"], failure["exception"], failure["error"]) == (
        "py-retry",
        "RuntimeError",
        "boom",
    )
    (record,) = await Queue(backend).failed()
    assert json.loads(record.raw) == failure  # both read the one record taskcore wrote
    assert inspected["stats"]["failed"] == "3"


# ---------------------------------------------------------------- Actionhero-shaped tasks


async def test_taskcore_task_validates_and_runs_node_enqueued_task_payloads(
    backend: Backend,
) -> None:
    tasks = TaskRegistry()
    received: list[dict[str, Any]] = []

    @tasks.task(queue="mail")
    async def send_welcome(email: str, name: str, retries: int = 2) -> str:
        received.append({"email": email, "name": name, "retries": retries})
        return f"welcome {name}"

    # Actionhero's task.enqueue writes {"class": name, "queue": q, "args": [inputs]}
    batch = [
        {
            "queue": "mail",
            "class": "send_welcome",
            "args": [{"email": "zoë@x.io", "name": "Zoë/ü"}],
        },
        {"queue": "mail", "class": "send_welcome", "args": [{"name": "no email"}]},
    ]
    await node(backend, "enqueue.js", "--batch", codec.dumps(batch))
    worker = Worker(backend, tasks.jobs, queues=["mail"], name="py-tasks", timeout=0.1)
    log = EventLog(worker)
    await drain(worker, log)
    await worker.end()

    assert received == [{"email": "zoë@x.io", "name": "Zoë/ü", "retries": 2}]
    assert [args[2] for args in log.args("success")] == ["welcome Zoë/ü"]
    ((_, job, error, _),) = log.args("failure")
    assert job == codec.Job("send_welcome", "mail", [{"name": "no email"}])
    assert isinstance(error, ValidationError) and "email" in str(error)
    seen = await node(backend, "inspect.js")
    (failure,) = seen["failed"]
    assert failure["payload"] == batch[1]
    assert failure["exception"] == "ValidationError"
    assert "email" in failure["error"]


async def test_node_worker_reads_args0_of_a_taskcore_task_as_its_inputs(backend: Backend) -> None:
    tasks = TaskRegistry()

    @tasks.task(queue="greetings")
    def greet(who: str, punctuation: str = "!") -> str:
        return f"hello {who}{punctuation}"

    api = TaskAPI(Queue(backend), tasks)
    assert await api.enqueue("greet", {"who": "Zoë/ü"})
    with pytest.raises(ValidationError):
        await api.enqueue("greet", {"punctuation": "?"})  # nothing written for invalid inputs

    inputs = {"who": "Zoë/ü", "punctuation": "!"}  # validated, defaults filled
    seen = await node(backend, "inspect.js")
    assert seen["queued"] == {
        "greetings": [{"class": "greet", "queue": "greetings", "args": [inputs]}]
    }
    worked = await node(
        backend, "worker.js", "--queues", "greetings", "--tasks", "greet", "--count", "1"
    )
    assert [(r["event"], r["result"]) for r in worked["results"]] == [
        ("success", {"task": "greet", "inputs": inputs})
    ]
