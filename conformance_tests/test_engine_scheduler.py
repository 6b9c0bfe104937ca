"""The Scheduler on every driver: leader election and failover, promotion of delayed jobs,
stuck-worker recovery. Time is a FakeClock except where the storage server's lock TTL rules."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from conformance_tests.engine_support import WAIT, EventLog, until_sleeping
from taskcore import codec
from taskcore.backend import Backend, WorkerId
from taskcore.clock import FakeClock
from taskcore.errors import BackendUnavailable
from taskcore.queue import Queue
from taskcore.scheduler import LEADER_LOCK, Scheduler


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_scheduler(backend: Backend, clock: FakeClock, name: str, **options: Any) -> Scheduler:
    options.setdefault("timeout", 1.0)
    return Scheduler(backend, name=name, clock=clock, queue=Queue(backend, clock=clock), **options)


async def test_only_one_scheduler_leads(backend_factory: Any, clock: FakeClock) -> None:
    first = make_scheduler(await backend_factory(), clock, "scheduler-a")
    second = make_scheduler(await backend_factory(), clock, "scheduler-b")
    assert await first.poll() is True
    assert await second.poll() is False
    assert await first.poll() is True  # renewing its own lock
    assert await Queue(first.backend).leader() == "scheduler-a"
    assert (first.is_leader, second.is_leader) == (True, False)


async def test_failover_when_the_leader_ends(backend_factory: Any, clock: FakeClock) -> None:
    first = make_scheduler(await backend_factory(), clock, "scheduler-a")
    second = make_scheduler(await backend_factory(), clock, "scheduler-b")
    first_log, second_log = EventLog(first), EventLog(second)
    await first.start()
    await first_log.wait_for("leader")
    await second.start()
    await until_sleeping(clock, 2)
    assert "leader" not in second_log.names()

    await first.end()
    assert first_log.names()[-1] == "end"
    clock.advance(1.0)
    await second_log.wait_for("leader")
    await second.end()
    assert await second.backend.get_lock(LEADER_LOCK) is None


async def test_a_follower_ending_leaves_the_leaders_lock(
    backend_factory: Any, clock: FakeClock
) -> None:
    first = make_scheduler(await backend_factory(), clock, "scheduler-a")
    second = make_scheduler(await backend_factory(), clock, "scheduler-b")
    await first.poll()
    await second.poll()
    await second.end()
    assert await first.backend.get_lock(LEADER_LOCK) == "scheduler-a"


async def test_failover_when_the_leaders_lock_expires(
    backend_factory: Any, clock: FakeClock
) -> None:
    # A leader that dies never releases its lock; the storage server expires it (real time).
    dead = make_scheduler(await backend_factory(), clock, "scheduler-a", leader_lock_timeout=1)
    survivor = make_scheduler(await backend_factory(), clock, "scheduler-b", leader_lock_timeout=1)
    assert await dead.poll()
    assert not await survivor.poll()
    deadline = time.monotonic() + WAIT
    while not await survivor.poll():
        assert time.monotonic() < deadline, "the dead leader's lock never expired"
        await asyncio.sleep(0.1)
    assert await Queue(survivor.backend).leader() == "scheduler-b"


async def test_due_delayed_jobs_are_promoted(backend: Backend, clock: FakeClock) -> None:
    queue = Queue(backend, clock=clock)
    await queue.enqueue_in(10_000, "math", "add", [1, 2])
    await queue.enqueue_in(20_000, "math", "add", [3, 4])
    scheduler = make_scheduler(backend, clock, "scheduler-a")
    log = EventLog(scheduler)

    assert await scheduler.poll()
    assert await queue.length("math") == 0  # not yet due: stays delayed
    clock.advance(10)
    await scheduler.poll()
    assert await queue.queued("math") == [codec.Job("add", "math", [1, 2])]
    assert await queue.scheduled_at("math", "add", [1, 2]) == []
    assert await queue.scheduled_at("math", "add", [3, 4]) == [codec.js_round(clock.now() + 10)]
    ((timestamp, job),) = log.args("transferred_job")
    assert (timestamp, job) == (codec.js_round(clock.now()), codec.Job("add", "math", [1, 2]))


async def test_jobs_not_yet_due_stay_delayed(backend: Backend, clock: FakeClock) -> None:
    queue = Queue(backend, clock=clock)
    await queue.enqueue_in(60_000, "math", "add", [1, 2])
    scheduler = make_scheduler(backend, clock, "scheduler-a")
    clock.advance(58)
    await scheduler.poll()
    assert await queue.length("math") == 0
    assert len(await queue.timestamps()) == 1


async def test_a_running_scheduler_promotes_as_its_clock_moves(
    backend: Backend, clock: FakeClock
) -> None:
    queue = Queue(backend, clock=clock)
    await queue.enqueue_in(5_000, "math", "add", [1])
    scheduler = make_scheduler(backend, clock, "scheduler-a", timeout=5.0)
    log = EventLog(scheduler)
    await scheduler.start()
    try:
        await log.wait_for("poll")
        await until_sleeping(clock)
        clock.advance(5)
        await log.wait_for("transferred_job")
        assert await queue.length("math") == 1
    finally:
        await scheduler.end()


async def stuck_worker(backend: Backend, clock: FakeClock) -> WorkerId:
    """A worker that registered, reserved a job, then died (no more pings)."""
    worker = WorkerId("dead-host:1", ("math",))
    await backend.register_worker(worker, clock.now())
    await Queue(backend).enqueue("math", "add", [1, 2])
    assert await backend.reserve(["math"], worker, clock.now()) is not None
    await backend.increment_stats({"processed:dead-host:1": 3})
    return worker


async def test_a_stuck_worker_is_cleaned_and_its_job_failed(
    backend: Backend, clock: FakeClock
) -> None:
    worker = await stuck_worker(backend, clock)
    scheduler = make_scheduler(backend, clock, "scheduler-a", stuck_worker_timeout=60.0)
    log = EventLog(scheduler)
    clock.advance(60)
    await scheduler.poll()
    assert log.args("clean_stuck_worker") == []  # 60 s is not older than 60 s

    clock.advance(2)
    await scheduler.poll()
    ((name, failures, age),) = log.args("clean_stuck_worker")
    assert (name, age) == ("dead-host:1", 62)
    (failure,) = [codec.decode_failure(r) for r in await backend.failures(0, -1)]
    assert failures == [failure]
    assert failure.exception == failure.error == "Worker Timeout (killed manually)"
    assert failure.backtrace is not None and failure.backtrace[1] == "queue#forceCleanWorker"
    assert failure.job == codec.Job("add", "math", [1, 2])
    assert failure.worker == "dead-host:1"
    # every key of the worker is gone
    assert await backend.list_workers() == []
    assert await backend.current_job(worker) is None
    assert await backend.worker_started(worker) is None
    assert await backend.worker_pings() == []
    stats = await backend.stats()
    assert "processed:dead-host:1" not in stats
    assert stats["failed"] == 1
    assert await backend.queue_length("math") == 0


async def test_retry_stuck_jobs_puts_the_job_back_in_its_queue(
    backend: Backend, clock: FakeClock
) -> None:
    await stuck_worker(backend, clock)
    scheduler = make_scheduler(
        backend, clock, "scheduler-a", stuck_worker_timeout=60.0, retry_stuck_jobs=True
    )
    clock.advance(120)
    await scheduler.poll()
    assert await backend.failure_count() == 0
    assert await Queue(backend).queued("math") == [codec.Job("add", "math", [1, 2])]
    assert await backend.list_workers() == []


async def test_stuck_worker_check_can_be_disabled(backend: Backend, clock: FakeClock) -> None:
    worker = await stuck_worker(backend, clock)
    scheduler = make_scheduler(backend, clock, "scheduler-a", stuck_worker_timeout=None)
    clock.advance(10 * 3600)
    await scheduler.poll()
    assert await backend.list_workers() == [worker]
    assert await backend.failure_count() == 0


async def test_storage_errors_in_the_loop_are_emitted_not_raised(
    backend: Backend, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(*_: Any) -> bool:
        raise BackendUnavailable("connection refused; is the server up?")

    monkeypatch.setattr(backend, "acquire_lock", down)
    scheduler = make_scheduler(backend, clock, "scheduler-a")
    log = EventLog(scheduler)
    await scheduler.start()
    (error,) = await log.wait_for("error")
    assert isinstance(error, BackendUnavailable)
    assert scheduler.running
    monkeypatch.undo()
    await until_sleeping(clock)
    clock.advance(1.0)
    await log.wait_for("leader")
    await scheduler.end()
    assert log.names()[0] == "start" and log.names()[-1] == "end"
