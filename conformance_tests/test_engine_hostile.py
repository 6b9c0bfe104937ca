"""The acceptance catalogue: no payload can stop a worker or hide a job from recovery.

Any producer can write anything into a queue (another resque client, a bug, a hand-edited
key). A worker must record every bad payload as a failure, with its bytes recoverable from the
record, run the good job behind them, and stay registered and idle; and a scheduler pass
afterwards must still clean a separately killed worker.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance_tests.engine_support import EventLog
from taskcore import codec
from taskcore.backend import Backend, Capabilities, WorkerId
from taskcore.clock import FakeClock
from taskcore.errors import InvalidArgument
from taskcore.queue import Queue
from taskcore.scheduler import Scheduler
from taskcore.worker import Worker

DEPTH = 10_000
TEN_MB = 10 * 1024 * 1024

CATALOGUE: dict[str, str] = {
    "deep nesting": '{"class":"add","queue":"math","args":' + "[" * DEPTH + "]" * DEPTH + "}",
    "deep nesting, not an object": "[" * DEPTH + "]" * DEPTH,
    # bytes 0xC3 0x28 (an invalid UTF-8 sequence): 0xC3 as a lone surrogate (PEP 383), "("
    "invalid UTF-8": '{"class":"add\udcc3(","queue":"math","args":[]}',
    "invalid UTF-8, not JSON": "\udcff\udcfe\udcfd",
    "NUL bytes": '{"class":"add\x00","queue":"math","args":[]}',
    "10 MB": codec.dumps({"class": "add", "queue": "math", "args": ["x" * TEN_MB]}),
    "not JSON": "not json {",
    "JSON not an object": "[1,2,3]",
    "missing class": '{"queue":"math","args":[]}',
    "args not a list": '{"class":"add","queue":"math","args":"12"}',
    "an unknown class": '{"class":"nope","queue":"math","args":[]}',
    "a class like os.system": '{"class":"os.system","queue":"math","args":["touch pwned"]}',
}
"""Raw payloads, pushed as they are. ``add(a, b=0)`` adds numbers, so the 10 MB job (a string
argument) and ``args`` that is not a list (wrapped as ``["12"]``, as node-resque does) fail when
run: every entry ends in the failed list."""

BINARY = {"invalid UTF-8", "invalid UTF-8, not JSON", "NUL bytes"}
"""Entries only storage declaring ``binary_payloads`` can hold; the others refuse them at push."""


def _storable(name: str, capabilities: Capabilities) -> bool:
    return name not in BINARY or capabilities.binary_payloads


def _payload_in(record: str, payload: str) -> bool:
    """True when ``payload`` can be read back, exactly, from the failure ``record``: embedded
    raw, or quoted as ``{"malformed_payload": <text>}``."""
    embedded = json.loads(record)["payload"]
    if isinstance(embedded, dict) and set(embedded) == {"malformed_payload"}:
        return bool(embedded["malformed_payload"] == payload)
    return f'"payload":{payload},' in record


async def test_hostile_payloads_are_recorded_and_the_worker_goes_on(
    backend: Backend, capabilities: Capabilities
) -> None:
    pushed: list[str] = []
    for name, payload in CATALOGUE.items():
        if _storable(name, capabilities):
            await backend.push("math", payload)
            pushed.append(payload)
        else:
            with pytest.raises(InvalidArgument):
                await backend.push("math", payload)
            assert await backend.queue_length("math") == len(pushed), f"{name}: half-written"
    good: list[Any] = []

    async def add(a: Any, b: Any = 0) -> Any:
        return a + b

    async def record(n: int) -> None:
        good.append(n)

    await backend.push("math", codec.encode_job("record", "math", [1]))
    clock = FakeClock()
    worker = Worker(
        backend,
        {"add": add, "record": record},
        queues=["math"],
        name="host:1",
        timeout=30.0,
        clock=clock,
    )
    log = EventLog(worker)
    await worker.start()
    try:
        await log.wait_for("success", timeout=120)
        await log.wait_for("pause")  # the first idle moment: every payload was taken
        assert good == [1]
        assert len(log.args("failure")) == len(pushed)
        records = await backend.failures(0, -1)
        assert len(records) == len(pushed)
        for name, payload in CATALOGUE.items():
            if _storable(name, capabilities):
                hits = [r for r in records if _payload_in(r, payload)]
                assert len(hits) == 1, f"{name}: its bytes cannot be read back from the record"
        stats = await backend.stats()
        assert (stats["processed"], stats["failed"]) == (1, len(pushed))
        # still alive, registered and idle
        assert worker.running
        assert "crash" not in log.names()
        assert await backend.list_workers() == [worker.worker_id]
        assert await backend.current_job(worker.worker_id) is None
        assert await Queue(backend).workers() == {"host:1": "math"}

        # A separately killed worker: it reserved a job 10 minutes ago and never pinged again.
        dead = WorkerId("dead:1", ("other",))
        await backend.register_worker(dead, clock.now() - 600)
        await backend.push("other", codec.encode_job("record", "other", [2]))
        assert await backend.reserve(["other"], dead, clock.now() - 600) is not None
        scheduler = Scheduler(backend, name="sched", clock=clock, stuck_worker_timeout=60)
        assert await scheduler.poll()
        assert await backend.list_workers() == [worker.worker_id]
        assert await backend.current_jobs() == {worker.worker_id: None}
        last = codec.decode_failure((await backend.failures(-1, -1))[0])
        assert (last.worker, last.job) == ("dead:1", codec.Job("record", "other", [2]))
        assert last.exception == "Worker Timeout (killed manually)"
    finally:
        await worker.end()
    assert await backend.list_workers() == []


@pytest.mark.parametrize("name", ["not JSON", "JSON not an object", "deep nesting"])
async def test_a_hostile_payload_held_when_the_worker_ends_is_a_readable_failure(
    backend: Backend, name: str
) -> None:
    payload = CATALOGUE[name]
    clock = FakeClock()
    worker = Worker(backend, {}, queues=["math"], name="host:2", timeout=30.0, clock=clock)
    await worker.start()
    try:
        # Left in its current-job record, as when recording its outcome failed at the end.
        await backend.push("held", payload)
        assert await backend.reserve(["held"], worker.worker_id, clock.now()) is not None
    finally:
        await worker.end()
    records = await backend.failures(0, -1)
    assert len(records) == 1
    assert _payload_in(records[0], payload), "the payload cannot be read back from the record"
    assert codec.decode_failure(records[0]).exception == "WorkerShutdown"
