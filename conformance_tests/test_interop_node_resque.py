"""Protocol-level interop: node-resque 9 and the taskcore Redis driver on one Redis namespace.

A node-resque process and a taskcore process sharing a Redis and a namespace must be able to
enqueue for each other, work each other's jobs, promote each other's delayed jobs and read each
other's workers, stats, failures and locks (DESIGN.md, "Redis driver: the wire format"). Each
test drives real node-resque through the scripts in ``conformance_tests/node`` (as subprocesses
with a timeout) and the driver through the :class:`~taskcore.backend.Backend` protocol only.

Runs against the real Redis of :func:`conformance_tests.servers.redis_url` in a namespace of its
own; a missing node, npm or Redis is an error, never a skip.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

import taskcore_redis
from conformance_tests import servers
from taskcore import codec
from taskcore.backend import Backend, DelayedJob, Outcome, WorkerId

pytestmark = [pytest.mark.node, pytest.mark.redis]

Node = Callable[..., Coroutine[Any, Any, Any]]

PY_WORKER = WorkerId("py-host:4242", ("math", "mail"))


@pytest.fixture
def ns() -> str:
    return f"taskcore-interop-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def backend(ns: str) -> AsyncIterator[Backend]:
    async with taskcore_redis.from_url(servers.redis_url(), namespace=ns) as opened:
        try:
            yield opened
        finally:
            await opened.flush()


@pytest.fixture
def node(ns: str) -> Node:
    """``await node("inspect.js", "--flag", "value")``: run a node-resque script on the test's
    namespace in a thread (so the event loop stays free) and return its JSON output."""
    url = servers.redis_url()
    servers.node_resque_dir()  # install before the first test's timeout starts counting

    async def run(script: str, *args: str) -> Any:
        return await asyncio.to_thread(
            servers.run_node_script, script, *args, url=url, namespace=ns, timeout=60
        )

    return run


def _failure(payload: str, now: float) -> str:
    return codec.encode_failure(
        worker=PY_WORKER.name,
        queue="math",
        payload=payload,
        exception="ValueError",
        error="numbers/only — é",
        backtrace=['  File "jobs.py", line 3, in perform'],
        failed_at=codec.js_date(now),
    )


# ---------------------------------------------------------------------------- node -> taskcore


async def test_node_enqueue_is_reserved_byte_for_byte(backend: Backend, node: Node) -> None:
    """A job node-resque enqueues is the exact payload taskcore reserves, and node sees the
    taskcore worker working it, then the counters taskcore's completion wrote."""
    args = json.dumps([1, {"path": "a/b", "text": "naïve ✓"}, 2.5, []])
    enqueued = await node("enqueue.js", "--queue", "math", "--class", "add", "--args", args)
    assert enqueued["result"] is True
    assert await backend.list_queues() == ["math"]
    assert await backend.queue_range("math", 0, -1) == [enqueued["payload"]]

    now = time.time()
    await backend.register_worker(PY_WORKER, now)
    reservation = await backend.reserve(["mail", "math"], PY_WORKER, now)
    assert reservation is not None
    assert reservation.queue == "math"
    assert reservation.payload == enqueued["payload"]

    seen = await node("inspect.js")
    assert seen["workers"] == {PY_WORKER.name: "math,mail"}
    working = seen["allWorkingOn"][PY_WORKER.name]
    assert working["queue"] == "math"
    assert working["worker"] == PY_WORKER.name
    assert working["payload"] == json.loads(enqueued["payload"])
    # node-resque parses run_at with Date.parse to age workers: it must be a readable date.
    run_at = codec.parse_date(working["run_at"])
    assert run_at is not None
    assert abs(run_at - now) < 2

    await backend.complete(PY_WORKER, Outcome.success())
    seen = await node("inspect.js")
    assert seen["allWorkingOn"] == {PY_WORKER.name: "started"}
    assert seen["stats"] == {"processed": "1", f"processed:{PY_WORKER.name}": "1"}
    assert seen["lengths"] == {"math": 0}


async def test_taskcore_failures_read_and_retried_by_node(backend: Backend, node: Node) -> None:
    """Failure records taskcore writes appear in node's failed() as node would show them, and
    node's byte-exact removeFailed/retryAndRemoveFailed match them."""
    now = time.time()
    payload = codec.encode_job("add", "math", [1, "two"])
    await backend.push("math", payload)
    await backend.register_worker(PY_WORKER, now)
    assert await backend.reserve(["math"], PY_WORKER, now) is not None
    record = _failure(payload, now)
    await backend.complete(PY_WORKER, Outcome.failure(record))

    seen = await node("inspect.js")
    assert seen["failedCount"] == 1
    assert seen["failed"] == [json.loads(record)]
    assert seen["stats"] == {"failed": "1", f"failed:{PY_WORKER.name}": "1"}

    retried = await node(
        "queue-call.js",
        "--method",
        "retryAndRemoveFailed",
        "--args",
        json.dumps([seen["failed"][0]]),
    )
    assert retried["result"] is True
    assert await backend.failure_count() == 0
    assert await backend.queue_range("math", 0, -1) == [payload]

    second = _failure(codec.encode_job("add", "math", [3]), now + 1)
    await backend.push_failure(second)
    removed = await node(
        "queue-call.js", "--method", "removeFailed", "--args", json.dumps([json.loads(second)])
    )
    assert removed["result"] == 1
    assert await backend.failures(0, -1) == []


async def test_node_scheduler_cleans_a_stuck_taskcore_worker(backend: Backend, node: Node) -> None:
    """node's scheduler treats a taskcore worker whose ping is too old as stuck: it unregisters
    it and moves its current job to the failed list, where taskcore reads it."""
    long_ago = time.time() - 7200
    payload = codec.encode_job("add", "math", [7, 8])
    await backend.push("math", payload)
    await backend.register_worker(PY_WORKER, long_ago)
    assert await backend.reserve(["math"], PY_WORKER, long_ago) is not None

    polled = await node("scheduler.js", "--stuck-worker-timeout", "60000")
    assert [c["worker"] for c in polled["cleaned"]] == [PY_WORKER.name]
    assert await backend.list_workers() == []
    failures = [codec.decode_failure(r) for r in await backend.failures(0, -1)]
    assert len(failures) == 1
    assert failures[0].job == codec.decode_job(payload)
    assert failures[0].backtrace is not None
    assert failures[0].backtrace[1] == "queue#forceCleanWorker"


# ---------------------------------------------------------------------------- taskcore -> node


async def test_node_worker_works_taskcore_jobs(backend: Backend, node: Node) -> None:
    """Jobs taskcore pushes are worked by a node-resque worker with their exact arguments; its
    success and failure are recorded where taskcore reads them."""
    good = codec.encode_job("add", "math", [2, 3])
    bad = codec.encode_job("fail", "math", ["no luck"])
    await backend.push("math", good)
    await backend.push("math", bad)

    worked = await node("worker.js", "--queues", "math", "--count", "2", "--name", "node-w:1")
    results = worked["results"]
    assert [r["event"] for r in results] == ["success", "failure"]
    assert results[0]["result"] == 5
    assert results[0]["job"] == json.loads(good)
    assert results[1]["job"] == json.loads(bad)

    assert await backend.queue_length("math") == 0
    # node-resque deletes a worker's own counters when it ends; the global ones stay.
    assert await backend.stats() == {"processed": 1, "failed": 1}
    (failure,) = [codec.decode_failure(r) for r in await backend.failures(0, -1)]
    assert failure.worker == "node-w:1"
    assert failure.queue == "math"
    assert failure.exception == "Error"
    assert failure.error == "no luck"
    assert failure.job == codec.decode_job(bad)
    assert await backend.list_workers() == []


async def test_taskcore_workers_and_stats_as_node_lists_them(backend: Backend, node: Node) -> None:
    """Registered taskcore workers (including a wildcard one) and counters appear in node's
    workers(), allWorkingOn() and stats() exactly as node-resque's own would."""
    now = time.time()
    wildcard = WorkerId("py-host:77", ("*",))
    await backend.register_worker(PY_WORKER, now)
    await backend.register_worker(wildcard, now)
    await backend.increment_stats({"processed": 3, "failed": 1, "processed:py-host:77": 3})

    seen = await node("inspect.js")
    assert seen["workers"] == {PY_WORKER.name: "math,mail", wildcard.name: "*"}
    assert seen["allWorkingOn"] == {PY_WORKER.name: "started", wildcard.name: "started"}
    assert seen["stats"] == {"processed": "3", "failed": "1", "processed:py-host:77": "3"}


# ---------------------------------------------------------------------------- delayed jobs


async def test_node_enqueue_at_is_promoted_by_taskcore(backend: Backend, node: Node) -> None:
    """enqueueAt's milliseconds become resque's whole seconds with JS Math.round (a .5 rounds
    up); taskcore's delayed views see the job and promote_due moves it exactly once."""
    at_ms = 1_700_000_000_500
    due = 1_700_000_001
    enqueued = await node(
        "enqueue.js", "--queue", "math", "--class", "add", "--args", "[4,5]", "--at", str(at_ms)
    )
    payload = enqueued["payload"]
    assert await backend.delayed_timestamps() == [due]
    assert await backend.delayed_at(due) == [payload]
    assert await backend.scheduled_at(payload) == [due]

    # never early: second `due` holds asks up to due + 0.5, so it moves from due + 0.5 on
    assert await backend.promote_due(now=due + 0.49) == []
    assert await backend.promote_due(now=due + 0.5) == [DelayedJob(due, "math", payload)]
    assert await backend.promote_due(now=due + 0.5) == []
    assert await backend.queue_range("math", 0, -1) == [payload]

    probe = json.dumps({"queue": "math", "class": "add", "args": [4, 5]})
    seen = await node("inspect.js", "--scheduled-at", probe)
    assert seen["timestamps"] == []
    assert seen["scheduledAt"] == []
    assert seen["queued"] == {"math": [json.loads(payload)]}


async def test_taskcore_schedule_is_promoted_by_node(backend: Backend, node: Node) -> None:
    """What taskcore schedules node lists (timestamps in ms, delayedAt, scheduledAt in seconds)
    and node's scheduler promotes the due job, leaving the future one in place."""
    now = int(time.time())
    past, future = now - 30, now + 3600
    due_payload = codec.encode_job("add", "math", [1, 1])
    later_payload = codec.encode_job("add", "math", [2, 2])
    assert await backend.schedule(past, "math", due_payload) is True
    assert await backend.schedule(future, "math", later_payload) is True

    probe = json.dumps({"queue": "math", "class": "add", "args": [1, 1]})
    seen = await node("inspect.js", "--scheduled-at", probe)
    assert sorted(seen["timestamps"]) == [past * 1000, future * 1000]
    assert seen["delayedAt"][str(past * 1000)] == {
        "tasks": [json.loads(due_payload)],
        "rTimestamp": past,
    }
    assert seen["scheduledAt"] == [past]

    polled = await node("scheduler.js", "--stuck-worker-timeout", "0")
    assert polled["leader"] is True
    assert polled["transferred"] == [{"timestamp": past, "job": json.loads(due_payload)}]
    assert await backend.queue_range("math", 0, -1) == [due_payload]
    assert await backend.delayed_timestamps() == [future]
    assert await backend.scheduled_at(due_payload) == []
    assert await backend.delayed_at(future) == [later_payload]


# ---------------------------------------------------------------------------- locks


async def test_taskcore_locks_listed_and_deleted_by_node(backend: Backend, node: Node) -> None:
    """Plugin locks taskcore takes are node's lock:/workerslock: keys, and a leader lock held by
    a taskcore scheduler keeps node's scheduler from leading."""
    assert await backend.acquire_lock("lock:add:math:[1,2]", "1700003601", 3600) is True
    assert await backend.acquire_lock("workerslock:add:math:[1,2]", "1700003602", 3600) is True
    assert await backend.acquire_lock("resque_scheduler_leader_lock", "py-scheduler", 180)

    seen = await node("inspect.js")
    assert seen["locks"] == {
        "lock:add:math:[1,2]": "1700003601",
        "workerslock:add:math:[1,2]": "1700003602",
    }
    assert seen["leader"] == "py-scheduler"
    polled = await node("scheduler.js", "--stuck-worker-timeout", "0")
    assert polled["leader"] is False

    deleted = await node(
        "queue-call.js", "--method", "delLock", "--args", json.dumps(["lock:add:math:[1,2]"])
    )
    assert deleted["result"] == 1
    assert await backend.get_lock("lock:add:math:[1,2]") is None
    assert await backend.list_locks("workerslock:") == {"workerslock:add:math:[1,2]": "1700003602"}
