"""The Scheduler on every driver: leader election and failover, promotion of delayed jobs,
stuck-worker recovery that no bad record stops, and judging liveness on the storage server's
clock. Time is a FakeClock except where the storage server's lock TTL rules."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from conformance_tests.engine_support import WAIT, EventLog, until_sleeping
from taskcore import codec
from taskcore.backend import Backend, WorkerId
from taskcore.clock import FakeClock, StorageClock
from taskcore.errors import BackendError, BackendUnavailable
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
    await until_sleeping(clock, 4)  # each: its poll loop and its lock renewal
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
    due = codec.js_round(clock.now() + 10)
    clock.advance(10)
    await scheduler.poll()
    # stored at a whole second, it may have asked for up to half a second later: never early
    assert await queue.length("math") == 0
    clock.advance(0.5)
    await scheduler.poll()
    assert await queue.queued("math") == [codec.Job("add", "math", [1, 2])]
    assert await queue.scheduled_at("math", "add", [1, 2]) == []
    assert await queue.scheduled_at("math", "add", [3, 4]) == [due + 10]
    ((timestamp, job),) = log.args("transferred_job")
    assert (timestamp, job) == (due, codec.Job("add", "math", [1, 2]))


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
        await until_sleeping(clock, 2)  # the poll loop and the leader lock's renewal
        clock.advance(6)  # due at +5 s, promoted from +5.5 s: the poll at +6 s moves it
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
    await until_sleeping(clock, 2)
    clock.advance(1.0)
    await log.wait_for("leader")
    await scheduler.end()
    assert log.names()[0] == "start" and log.names()[-1] == "end"


# ---------------------------------------------------------------- recovery never stops

POISONS = {
    "not-json": 'not json {"class":',
    "deep": "[" * 10_000 + "]" * 10_000,
    "not-an-object": '["add","math",[1,2]]',
}


async def reserved_by(backend: Backend, worker: WorkerId, payload: str, now: float) -> None:
    """``worker`` registers and reserves ``payload`` (pushed as is), then dies."""
    await backend.register_worker(worker, now)
    await backend.push("math", payload)
    reservation = await backend.reserve(["math"], worker, now)
    assert reservation is not None and reservation.payload == payload


@pytest.mark.parametrize("poison", list(POISONS.values()), ids=list(POISONS))
async def test_a_poisoned_current_job_does_not_stop_recovery(
    backend: Backend, clock: FakeClock, poison: str
) -> None:
    # the first dead worker (in name order) holds a payload nobody can decode
    await reserved_by(backend, WorkerId("dead-host:1", ("math",)), poison, clock.now())
    good = codec.encode_job("add", "math", [1, 2])
    await reserved_by(backend, WorkerId("dead-host:2", ("math",)), good, clock.now())
    scheduler = make_scheduler(
        backend, clock, "scheduler-a", stuck_worker_timeout=60.0, retry_stuck_jobs=True
    )
    log = EventLog(scheduler)
    clock.advance(120)
    assert await scheduler.poll()

    assert log.args("error") == []
    cleaned = {name: failures for name, failures, _ in log.args("clean_stuck_worker")}
    assert sorted(cleaned) == ["dead-host:1", "dead-host:2"]
    assert [f.job for f in cleaned["dead-host:2"]] == [codec.Job("add", "math", [1, 2])]
    assert await backend.list_workers() == []
    # retry_stuck_jobs ran: the good job is back in its queue ...
    assert await backend.queue_range("math", 0, -1) == [good]
    # ... and the poisoned one stays failed, its bytes recoverable from the record
    (record,) = await backend.failures(0, -1)
    failure = codec.decode_failure(record)
    assert [f.raw for f in cleaned["dead-host:1"]] == [record]
    assert failure.worker == "dead-host:1"
    assert failure.backtrace is not None and failure.backtrace[1] == "queue#forceCleanWorker"
    assert failure.payload == {"malformed_payload": poison}
    embedded = record[record.index('"payload":') + len('"payload":') : record.index(',"exception"')]
    assert codec.unembed_payload(embedded) == poison
    assert (await backend.stats())["failed"] == 2


async def test_a_worker_that_cannot_be_cleaned_does_not_stop_the_others(
    backend: Backend, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    await stuck_worker(backend, clock)  # dead-host:1
    await reserved_by(
        backend, WorkerId("dead-host:2", ("math",)), codec.encode_job("add", "math", [3]), 0
    )
    scheduler = make_scheduler(
        backend, clock, "scheduler-a", stuck_worker_timeout=60.0, retry_stuck_jobs=True
    )
    clean = scheduler.queue.force_clean_worker

    async def flaky_clean(name: str) -> list[codec.Failure]:
        if name == "dead-host:1":
            raise RuntimeError("a bug in a resque_overrides Queue")
        return await clean(name)

    monkeypatch.setattr(scheduler.queue, "force_clean_worker", flaky_clean)
    log = EventLog(scheduler)
    clock.advance(120)
    assert await scheduler.poll()
    ((error,),) = log.args("error")
    assert str(error) == "a bug in a resque_overrides Queue"
    assert "dead-host:1" in caplog.text and "a bug in a resque_overrides Queue" in caplog.text
    assert [name for name, _, _ in log.args("clean_stuck_worker")] == ["dead-host:2"]
    # the other worker's job was retried in the same poll
    assert await Queue(backend).queued("math") == [codec.Job("add", "math", [3])]
    assert [w.name for w in await backend.list_workers()] == ["dead-host:1"]


async def poll_with_a_broken_step(
    backend: Backend,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    error: Exception,
    advance: float,
) -> EventLog:
    """One poll of a leading scheduler (stuck-worker timeout 60 s), ``advance`` seconds on,
    while the backend's ``method`` raises ``error``; the poll still reports it led. Returns
    the scheduler's events."""

    async def broken(*_: Any) -> list[Any]:
        raise error

    monkeypatch.setattr(backend, method, broken)
    scheduler = make_scheduler(backend, clock, "scheduler-a", stuck_worker_timeout=60.0)
    log = EventLog(scheduler)
    clock.advance(advance)
    assert await scheduler.poll()
    return log


async def test_a_failed_promotion_still_cleans_stuck_workers(
    backend: Backend, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await stuck_worker(backend, clock)
    script_error = BackendError("ERR Error running script (call to f_...): @user_script:12")
    log = await poll_with_a_broken_step(
        backend, clock, monkeypatch, "promote_due", script_error, advance=120
    )
    ((error,),) = log.args("error")
    assert isinstance(error, BackendError)
    assert [name for name, _, _ in log.args("clean_stuck_worker")] == ["dead-host:1"]


async def test_a_failed_stuck_worker_pass_still_promotes(
    backend: Backend, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await Queue(backend, clock=clock).enqueue_in(1_000, "math", "add", [1])
    wrong_type = BackendError("ERR wrong kind of value")
    log = await poll_with_a_broken_step(
        backend, clock, monkeypatch, "worker_pings", wrong_type, advance=2
    )
    assert [type(e) for (e,) in log.args("error")] == [BackendError]
    assert await Queue(backend).queued("math") == [codec.Job("add", "math", [1])]


# ---------------------------------------------------------------- one clock


class Skewed:
    """Another machine's clock: ``truth`` shifted by ``seconds`` (sleeping on ``truth``)."""

    def __init__(self, truth: FakeClock, seconds: float) -> None:
        self.truth = truth
        self.seconds = seconds

    def now(self) -> float:
        return self.truth.now() + self.seconds

    async def sleep(self, seconds: float) -> None:
        await self.truth.sleep(seconds)


def storage_runs_on(backend: Backend, monkeypatch: pytest.MonkeyPatch, clock: Any) -> None:
    """The storage server's clock reads ``clock`` (the Redis TIME / PostgreSQL now() stand-in)."""

    async def server_time() -> float:
        return float(clock.now())

    monkeypatch.setattr(backend, "server_time", server_time)


async def test_without_a_clock_the_scheduler_judges_pings_on_the_storage_clock(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # this machine's clock is 10 minutes ahead of the storage server's
    server = Skewed(FakeClock(time.time()), -600)
    storage_runs_on(backend, monkeypatch, server)
    live, dead = WorkerId("live:1", ("math",)), WorkerId("dead:1", ("math",))
    await backend.register_worker(live, server.now())  # pings on the server's clock
    await backend.register_worker(dead, server.now() - 120)
    scheduler = Scheduler(backend, name="scheduler-a", stuck_worker_timeout=60.0)
    assert isinstance(scheduler.clock, StorageClock)
    assert scheduler.queue.clock is scheduler.clock
    log = EventLog(scheduler)
    assert await scheduler.poll()
    assert [name for name, _, _ in log.args("clean_stuck_worker")] == ["dead:1"]
    assert await backend.list_workers() == [live]


async def test_skewed_worker_and_scheduler_clocks_agree_through_the_storage_clock(
    backend: Backend, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # true time is `clock`, which the storage server reads; the worker's machine runs 10
    # minutes behind it and the scheduler's 10 minutes ahead: both read time as StorageClocks
    storage_runs_on(backend, monkeypatch, clock)
    worker_clock = StorageClock(backend, base=Skewed(clock, -600))
    scheduler_clock = StorageClock(backend, base=Skewed(clock, +600))
    worker = WorkerId("behind:1", ("math",))
    await worker_clock.refresh()
    await backend.register_worker(worker, worker_clock.now())
    scheduler = Scheduler(
        backend, name="scheduler-a", timeout=5.0, stuck_worker_timeout=60.0, clock=scheduler_clock
    )
    log = EventLog(scheduler)
    for _ in range(6):  # three minutes of heartbeats every 30 s
        clock.advance(30)
        await worker_clock.refresh()
        await backend.ping_worker(worker, worker_clock.now())
        assert await scheduler.poll()
    assert log.args("clean_stuck_worker") == []
    assert log.args("clock_skew") == []
    clock.advance(60)  # the worker dies: 60 s is not older than 60 s ...
    await scheduler.poll()
    assert log.args("clean_stuck_worker") == []
    clock.advance(1)  # ... 61 s is
    await scheduler.poll()
    assert [(name, age) for name, _, age in log.args("clean_stuck_worker")] == [("behind:1", 61)]


async def test_a_ping_dated_in_the_future_is_reported_as_skew_not_cleaned(
    backend: Backend, clock: FakeClock, caplog: Any
) -> None:
    # a worker not on the storage clock (node-resque writes pings with its own) runs ahead
    worker = WorkerId("ahead:1", ("math",))
    await backend.register_worker(worker, clock.now() + 600)
    scheduler = make_scheduler(backend, clock, "scheduler-a", stuck_worker_timeout=60.0)
    log = EventLog(scheduler)
    with caplog.at_level(logging.DEBUG, logger="taskcore.scheduler"):
        await scheduler.poll()
        clock.advance(30)
        await scheduler.poll()  # reported once, not on every poll
    assert log.args("clock_skew") == [("ahead:1", 600.0)]
    # the operator's WARNING line comes from taskcore.ops.logs (tests/test_ops_logging.py)
    (note,) = [r for r in caplog.records if r.name == "taskcore.scheduler"]
    assert note.levelno == logging.DEBUG and "ahead:1" in note.getMessage()
    assert log.args("clean_stuck_worker") == []
    assert await backend.list_workers() == [worker]
    # within the tolerance (2 x the poll interval) a ping ahead is neither skew nor stale
    await backend.ping_worker(worker, clock.now() + 2)
    await scheduler.poll()
    assert log.args("clock_skew") == [("ahead:1", 600.0)]
    await backend.ping_worker(worker, clock.now() + 600)
    await scheduler.poll()  # back in the future after being in range: reported again
    assert len(log.args("clock_skew")) == 2


async def test_after_an_outage_live_workers_get_a_chance_to_ping(
    backend: Backend, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    live, dead = WorkerId("live:1", ("math",)), WorkerId("dead:1", ("math",))
    await backend.register_worker(live, clock.now())
    await backend.register_worker(dead, clock.now())
    scheduler = make_scheduler(backend, clock, "scheduler-a", stuck_worker_timeout=60.0)
    log = EventLog(scheduler)
    assert await scheduler.poll()

    async def down(*_: Any) -> bool:
        raise BackendUnavailable("connection refused; is the server up?")

    monkeypatch.setattr(backend, "acquire_lock", down)
    for _ in range(4):  # two minutes without storage: nobody can ping
        clock.advance(30)
        with pytest.raises(BackendUnavailable):
            await scheduler.poll()
    monkeypatch.undo()
    assert await scheduler.poll()  # storage is back: both pings are 120 s old
    assert log.args("clean_stuck_worker") == []
    clock.advance(5)
    await backend.ping_worker(live, clock.now())  # the live worker's next heartbeat
    clock.advance(56)
    await scheduler.poll()  # 61 s since storage came back: only the silent worker is dead
    assert [name for name, _, _ in log.args("clean_stuck_worker")] == ["dead:1"]
    assert await backend.list_workers() == [live]


async def test_a_slow_poll_does_not_lose_the_leader_lock(
    backend_factory: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    leader = make_scheduler(await backend_factory(), clock, "scheduler-a", leader_lock_timeout=3)
    follower = make_scheduler(await backend_factory(), clock, "scheduler-b", leader_lock_timeout=3)
    release = asyncio.Event()
    promoting = asyncio.Event()

    async def slow_promotion(*_: Any) -> list[Any]:
        promoting.set()
        await release.wait()
        return []

    monkeypatch.setattr(leader.backend, "promote_due", slow_promotion)
    log = EventLog(leader)
    await leader.start()
    try:
        await asyncio.wait_for(promoting.wait(), WAIT)
        assert leader.is_leader
        # the poll is stuck in storage; the lock's TTL (run by the server) is almost spent
        await leader.backend.set_lock(LEADER_LOCK, "scheduler-a", 1)
        await until_sleeping(clock)  # only the renewal sleeps: the poll is busy
        clock.advance(1.0)  # leader_lock_timeout / 3
        await until_sleeping(clock)
        assert await leader.backend.lock_ttl(LEADER_LOCK) in (2, 3)
        assert await follower.poll() is False
    finally:
        release.set()
        await leader.end()
    assert log.args("error") == []
    assert await follower.poll() is True
