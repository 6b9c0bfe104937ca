"""The Worker on every driver: ordering, accounting, failures, hooks, events, heartbeat,
wake-up latency and shutdown. Behaviour follows node-resque's Worker with its bugs fixed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

import pytest

from conformance_tests.drivers import DriverSpec
from conformance_tests.engine_support import WAIT, EventLog, run_until, until_sleeping
from taskcore import codec
from taskcore.backend import Backend, WorkerId
from taskcore.clock import FakeClock
from taskcore.errors import BackendUnavailable, ConfigError, UnknownJob
from taskcore.jobs import JobDefinition, Jobs
from taskcore.multiworker import MultiWorker
from taskcore.perform import JobRunner
from taskcore.plugins.base import Plugin
from taskcore.queue import Queue
from taskcore.scheduler import Scheduler
from taskcore.worker import Worker


def make_worker(backend: Backend, jobs: Jobs, **options: Any) -> Worker:
    options.setdefault("name", "host:1")
    options.setdefault("queues", ["math"])
    options.setdefault("timeout", 30.0)
    return Worker(backend, jobs, **options)


@pytest.fixture
def done() -> list[Any]:
    """What the test jobs saw, in the order they ran."""
    return []


@pytest.fixture
def jobs(done: list[Any]) -> Jobs:
    jobs = Jobs()

    @jobs.register("add")
    async def add(a: int, b: int = 0) -> int:
        done.append(("add", a, b))
        return a + b

    @jobs.register("sync_add")
    def sync_add(a: int, b: int) -> dict[str, Any]:
        done.append(("sync_add", a, b))
        return {"sum": a + b, "thread": threading.get_ident()}

    @jobs.register("boom")
    async def boom(message: str) -> None:
        raise ValueError(message)

    return jobs


async def test_jobs_of_one_queue_run_in_fifo_order(
    backend: Backend, jobs: Jobs, done: list[Any]
) -> None:
    queue = Queue(backend)
    for n in range(4):
        await queue.enqueue("math", "add", [n])
    worker = make_worker(backend, jobs)
    while await worker.work_one():
        pass
    assert done == [("add", n, 0) for n in range(4)]


async def test_queues_are_worked_in_strict_priority_order(
    backend: Backend, jobs: Jobs, done: list[Any]
) -> None:
    queue = Queue(backend)
    await queue.enqueue("low", "add", [1])
    await queue.enqueue("low", "add", [2])
    await queue.enqueue("high", "add", [10])
    worker = make_worker(backend, jobs, queues=["high", "low"])
    assert await worker.work_one()
    assert await worker.work_one()
    # a job pushed to the first queue jumps ahead of the rest of the lower queue
    await queue.enqueue("high", "add", [11])
    while await worker.work_one():
        pass
    assert [a for _, a, _ in done] == [10, 1, 11, 2]


async def test_a_single_queue_string_names_one_queue(backend: Backend, jobs: Jobs) -> None:
    # node-resque iterated the characters of "math" and never worked it
    await Queue(backend).enqueue("math", "add", [1, 2])
    worker = make_worker(backend, jobs, queues="math")
    assert worker.worker_id == WorkerId("host:1", ("math",))
    assert await worker.work_one()
    assert await backend.queue_length("math") == 0


async def test_wildcard_worker_notices_new_queues_without_re_registering(
    backend: Backend, jobs: Jobs
) -> None:
    worker = make_worker(backend, jobs, queues="*", timeout=0.05)
    log = EventLog(worker)
    await worker.start()
    try:
        await log.wait_for("pause")
        assert await backend.list_workers() == [WorkerId("host:1", ("*",))]
        started = await backend.worker_started(WorkerId("host:1", ("*",)))
        await Queue(backend).enqueue("__new_queue", "add", [1, 2])
        queue, _, result, _ = await log.wait_for("success")
        assert (queue, result) == ("__new_queue", 3)
        await log.wait_for("pause", count=len(log.args("pause")) + 2)
        assert await backend.list_workers() == [WorkerId("host:1", ("*",))]
        assert await backend.worker_started(WorkerId("host:1", ("*",))) == started
        assert (await backend.stats())["processed:host:1"] == 1
    finally:
        await worker.end()


async def test_sync_jobs_run_in_a_thread_and_async_jobs_on_the_loop(
    backend: Backend, jobs: Jobs, done: list[Any]
) -> None:
    queue = Queue(backend)
    await queue.enqueue("math", "sync_add", [1, 2])
    await queue.enqueue("math", "add", [3, 4])
    worker = make_worker(backend, jobs)
    log = EventLog(worker)
    assert await worker.work_one()
    assert await worker.work_one()
    (sync_result, async_result) = [args[2] for args in log.args("success")]
    assert sync_result["sum"] == 3
    assert sync_result["thread"] != threading.get_ident()
    assert async_result == 7


async def test_success_and_failure_are_counted_and_failures_recorded(
    backend: Backend, jobs: Jobs
) -> None:
    queue = Queue(backend)
    await queue.enqueue("math", "add", [1, 2])
    await queue.enqueue("math", "boom", ["Blue Smoke"])
    payload = codec.encode_job("boom", "math", ["Blue Smoke"])
    clock = FakeClock()
    worker = make_worker(backend, jobs, clock=clock)
    log = EventLog(worker)
    assert await worker.work_one()
    assert await worker.work_one()

    stats = await backend.stats()
    assert stats["processed"] == 1 and stats["processed:host:1"] == 1
    assert stats["failed"] == 1 and stats["failed:host:1"] == 1
    (raw,) = await backend.failures(0, -1)
    failure = codec.decode_failure(raw)
    assert failure.worker == "host:1"
    assert failure.queue == "math"
    assert codec.dumps(failure.payload) == payload
    assert failure.exception == "ValueError"
    assert failure.error == "Blue Smoke"
    assert failure.backtrace is not None
    assert failure.backtrace[0].startswith("Traceback")
    assert any("in boom" in line for line in failure.backtrace)
    assert codec.parse_date(failure.failed_at) == int(clock.now())
    ((queue_name, job, error, duration),) = log.args("failure")
    assert (queue_name, job.class_name, type(error), duration >= 0) == (
        "math",
        "boom",
        ValueError,
        True,
    )
    assert await backend.current_job(worker.worker_id) is None


async def test_an_unknown_class_is_a_recorded_failure(backend: Backend, jobs: Jobs) -> None:
    await Queue(backend).enqueue("math", "somethingFake", [])
    worker = make_worker(backend, jobs)
    log = EventLog(worker)
    assert await worker.work_one()
    (failure,) = [codec.decode_failure(r) for r in await backend.failures(0, -1)]
    assert failure.exception == "UnknownJob"
    assert failure.error == 'No job defined for class "somethingFake"'
    assert "job" not in log.names()
    assert isinstance(log.args("failure")[0][2], UnknownJob)
    assert (await backend.stats())["failed"] == 1


@pytest.mark.parametrize("payload", ["not json", "[1,2]", '{"queue":"math","args":[]}'])
async def test_a_malformed_payload_is_a_recorded_failure_and_the_loop_goes_on(
    backend: Backend, jobs: Jobs, payload: str
) -> None:
    await backend.push("math", payload)
    await Queue(backend).enqueue("math", "add", [1, 2])
    worker = make_worker(backend, jobs)
    log = await run_until(worker)
    (failure,) = [codec.decode_failure(r) for r in await backend.failures(0, -1)]
    assert failure.exception == "MalformedPayload"
    assert isinstance(failure.payload, dict)
    # the bad bytes are kept, quoted inside a JSON object, so the record stays readable
    assert payload in failure.raw or codec.dumps(payload) in failure.raw
    assert log.args("failure")[0][1] is None


class Gate(Plugin):
    """before_perform lets a job through only if its first arg is not "blocked"; after_perform
    records what it saw and clears errors whose message is "forgive me"."""

    seen: list[tuple[Any, Any]] = []

    async def before_perform(self) -> bool:
        return bool(self.args[0] != "blocked")

    async def after_perform(self) -> bool:
        Gate.seen.append((self.context.result, self.error))
        if self.error is not None and str(self.error) == "forgive me":
            self.error = None
        return True


async def test_perform_hooks_can_skip_a_job_and_clear_its_error(backend: Backend) -> None:
    Gate.seen = []

    async def job(flag: str) -> str:
        if flag != "ok":
            raise RuntimeError(flag)
        return "done"

    jobs = Jobs({"gated": JobDefinition(job, plugins=(Gate,))})
    queue = Queue(backend)
    for flag in ("blocked", "ok", "forgive me", "unforgiven"):
        await queue.enqueue("math", "gated", [flag])
    worker = make_worker(backend, jobs)
    log = EventLog(worker)
    while await worker.work_one():
        pass

    assert [result for result, _ in Gate.seen] == ["done", None, None]
    assert [str(error) for _, error in Gate.seen[1:]] == ["forgive me", "unforgiven"]
    stats = await backend.stats()
    # the skipped job counts as neither processed nor failed (node-resque's rule)
    assert (stats["processed"], stats["failed"]) == (2, 1)
    assert await backend.failure_count() == 1
    assert [args[2] for args in log.args("success")] == ["done", None]
    # the skip is an event of its own, so logs and metrics need not guess it
    [(queue_name, skipped, duration)] = log.args("skipped")
    assert (queue_name, skipped.args, duration >= 0) == ("math", ["blocked"], True)
    assert await backend.current_job(worker.worker_id) is None


async def test_events_of_one_job_in_order(backend: Backend, jobs: Jobs) -> None:
    worker = make_worker(backend, jobs)
    log = EventLog(worker)
    await worker.start()
    try:
        await log.wait_for("pause")
        await Queue(backend).enqueue("math", "add", [1, 2])
        await log.wait_for("success")
        await log.wait_for("pause", count=2)
    finally:
        await worker.end()
    names = [n for n in log.names() if n not in ("ping",)]
    assert names[:2] == ["start", "poll"]
    assert names[names.index("job") - 1 : names.index("job") + 4] == [
        "poll",
        "job",
        "success",
        "poll",
        "pause",
    ]
    assert names[-1] == "end"
    queue, job = log.args("job")[0]
    assert (queue, job) == ("math", codec.Job("add", "math", [1, 2]))


async def test_heartbeat_pings_every_timeout_on_the_injected_clock(
    backend: Backend, jobs: Jobs
) -> None:
    clock = FakeClock()
    worker = make_worker(backend, jobs, clock=clock, timeout=5.0)
    log = EventLog(worker)
    await worker.start()
    try:
        ((first,),) = log.args("ping")
        assert first == codec.js_round(clock.now())
        for n in (1, 2):
            await until_sleeping(clock)
            clock.advance(5.0)
            (time,) = await log.wait_for("ping", count=n + 1)
            assert time == codec.js_round(clock.now())
            (ping,) = [p for p in await backend.worker_pings() if p.name == "host:1"]
            assert ping.time == time
    finally:
        await worker.end()


@pytest.mark.requires_capability("enqueue_notifications")
async def test_an_idle_worker_picks_up_a_push_without_waiting_for_its_poll_timeout(
    backend: Backend, jobs: Jobs
) -> None:
    worker = make_worker(backend, jobs, timeout=30.0)
    log = EventLog(worker)
    await worker.start()
    try:
        await log.wait_for("pause")
        await Queue(backend).enqueue("math", "add", [1, 2])
        # far below the 30 s poll timeout: the push woke the worker
        await log.wait_for("success", timeout=5.0)
    finally:
        await worker.end()


async def test_a_storage_error_is_emitted_and_the_worker_keeps_going(
    backend: Backend, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_reserve = backend.reserve
    failures = [BackendUnavailable("connection refused; is the server up?")]

    async def flaky_reserve(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real_reserve(*args, **kwargs)

    monkeypatch.setattr(backend, "reserve", flaky_reserve)
    await Queue(backend).enqueue("math", "add", [1, 2])
    worker = make_worker(backend, jobs)
    log = await run_until(worker)
    assert isinstance(log.args("error")[0][0], BackendUnavailable)
    assert (await backend.stats())["processed"] == 1


async def test_a_storage_call_applied_but_whose_reply_was_lost_loses_no_job(
    backend: Backend, jobs: Jobs, done: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server ran the call, then the reply was lost (a timeout, a dropped connection): the
    # job it reserved is only in the current-job record. A blind retry would overwrite it.
    lost = {"reserve": 1, "complete_and_reserve": 1}

    def reply_lost(method: str) -> Any:
        real = getattr(backend, method)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = await real(*args, **kwargs)
            if lost[method]:
                lost[method] -= 1
                raise BackendUnavailable("reply lost; is the network up?")
            return result

        return call

    for method in lost:
        monkeypatch.setattr(backend, method, reply_lost(method))
    queue = Queue(backend)
    for n in range(4):
        await queue.enqueue("math", "add", [n])
    log = await run_until(make_worker(backend, jobs, timeout=0.05), 4, idle=True)
    assert len(log.args("error")) == 2
    assert sorted(done) == [("add", n, 0) for n in range(4)]
    assert (await backend.stats())["processed"] == 4
    assert await backend.failure_count() == 0


async def test_a_busy_wildcard_worker_notices_a_new_queue_within_timeout(
    backend: Backend, jobs: Jobs
) -> None:
    clock = FakeClock()
    queue = Queue(backend, clock=clock)
    ran: list[str] = []

    async def again() -> None:
        ran.append("b")  # always one more job on "b": the worker never idles
        await queue.enqueue("b", "again")

    async def first() -> None:
        ran.append("a")

    worker = make_worker(
        backend, Jobs({"again": again, "first": first}), queues="*", clock=clock, timeout=5.0
    )
    log = EventLog(worker)
    await queue.enqueue("b", "again")
    await worker.start()
    try:
        await log.wait_for("success", count=3)
        await queue.enqueue("a", "first")  # sorts ahead of "b", unknown to the worker yet
        await log.wait_for("success", count=len(log.args("success")) + 3)
        assert "a" not in ran
        clock.advance(5.0)
        await log.wait_for("success", lambda q, *_: q == "a")
    finally:
        worker.request_stop()
        await worker.end()


async def test_a_start_that_fails_leaves_no_registered_worker(
    backend: Backend, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(*_: Any) -> Any:
        raise BackendUnavailable("cannot subscribe; is the server up?")

    monkeypatch.setattr(backend, "wake_up", down)
    worker = make_worker(backend, jobs)
    with pytest.raises(BackendUnavailable):
        await worker.start()
    assert await backend.list_workers() == []
    assert await backend.worker_pings() == []


async def test_graceful_shutdown_finishes_the_current_job_and_loses_nothing(
    backend: Backend,
) -> None:
    release = asyncio.Event()

    async def slow(n: int) -> int:
        await release.wait()
        return n

    queue = Queue(backend)
    await queue.enqueue("math", "slow", [1])
    await queue.enqueue("math", "slow", [2])
    worker = make_worker(backend, Jobs({"slow": slow}))
    log = EventLog(worker)
    await worker.start()
    await log.wait_for("job")
    ending = asyncio.ensure_future(worker.end())
    await asyncio.sleep(0)
    assert not ending.done()
    release.set()
    await asyncio.wait_for(ending, WAIT)

    assert [args[2] for args in log.args("success")] == [1]
    assert await queue.queued("math") == [codec.Job("slow", "math", [2])]
    assert (await backend.stats()).get("processed") == 1
    assert await backend.list_workers() == []
    assert await backend.worker_pings() == []
    assert await backend.current_jobs() == {}


async def test_shutdown_deadline_cancels_the_job_and_records_it_as_a_failure(
    backend: Backend,
) -> None:
    running = asyncio.Event()

    async def forever() -> None:
        running.set()
        await asyncio.Event().wait()

    jobs = Jobs()
    jobs.register("forever", forever, plugins=["JobLock"])
    queue = Queue(backend, jobs)
    await queue.enqueue("math", "forever")
    await queue.enqueue("math", "forever")
    worker = make_worker(backend, jobs, shutdown_timeout=0.05)
    await worker.start()
    await asyncio.wait_for(running.wait(), WAIT)  # past its before_perform hooks (JobLock)
    assert list(await backend.list_locks("workerslock:")) == ["workerslock:forever:math:[]"]
    await asyncio.wait_for(worker.end(), WAIT)

    # the cancelled job's after_perform hooks still ran: its JobLock is released
    assert await backend.list_locks("workerslock:") == {}
    (failure,) = [codec.decode_failure(r) for r in await backend.failures(0, -1)]
    assert failure.exception == "ShutdownDeadlineExceeded"
    assert failure.job == codec.Job("forever", "math", [])
    assert await queue.length("math") == 1
    assert await backend.list_workers() == []
    assert await backend.current_jobs() == {}


async def test_perform_inline_runs_hooks_and_the_job_without_storage(
    backend: Backend, jobs: Jobs
) -> None:
    worker = make_worker(backend, jobs)
    assert await worker.perform_inline("add", [1, 2]) == 3
    with pytest.raises(ValueError, match="Blue Smoke"):
        await worker.perform_inline("boom", ["Blue Smoke"])
    with pytest.raises(UnknownJob):
        await worker.perform_inline("nope")
    assert await backend.stats() == {}
    assert await backend.list_workers() == []


async def test_a_worker_keeps_consuming_after_the_server_goes_away_and_returns(
    driver: DriverSpec, namespace: str, backend: Backend
) -> None:
    # The failure users of job systems report most: after a server restart the worker stays
    # alive but never takes another job. Here every connection of the worker (including its
    # wake-up listener) runs through a proxy that is cut and then restored; the poll timeout is
    # 30 s, so only a recovered wake-up path (or the worker's own retry) explains a prompt job.
    if driver.unreachable_url is None or driver.behind_proxies is None:
        pytest.skip("an in-process driver has no server to go away")
    ran: list[int] = []
    got_one = asyncio.Event()

    async def record(i: int) -> None:
        ran.append(i)
        got_one.set()

    async with driver.behind_proxies(driver.url()) as storage:
        proxied = storage.connect(namespace)
        await proxied.open()
        worker = Worker(proxied, {"record": record}, queues=["q"], name="survivor", timeout=30.0)
        log = EventLog(worker)
        try:
            await worker.start()
            await backend.push("q", codec.encode_job("record", "q", [1]))
            await asyncio.wait_for(got_one.wait(), WAIT)
            got_one.clear()

            storage.cut()
            await log.wait_for("error")  # it noticed the outage
            await storage.restore()
            await backend.push("q", codec.encode_job("record", "q", [2]))
            await asyncio.wait_for(got_one.wait(), 20)
        finally:
            await asyncio.wait_for(worker.end(), WAIT)
            await proxied.aclose()
    assert ran == [1, 2]
    assert (await backend.stats()).get("processed") == 2


async def test_a_job_past_its_timeout_is_cancelled_and_recorded_as_a_failure(
    backend: Backend,
) -> None:
    clock = FakeClock()
    cancelled = asyncio.Event()
    release_thread = threading.Event()

    async def hangs() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def hangs_in_a_thread() -> None:
        release_thread.wait(WAIT)

    async def quick() -> str:
        return "done"

    jobs = Jobs()
    jobs.register("hangs", hangs, timeout=30)
    jobs.register("hangs_sync", hangs_in_a_thread, timeout=30)
    jobs.register("quick", quick, timeout=30)
    queue = Queue(backend, jobs, clock=clock)
    for name in ("hangs", "hangs_sync", "quick"):
        await queue.enqueue("math", name)
    worker = make_worker(backend, jobs, clock=clock)
    log = EventLog(worker)
    try:
        for _ in range(2):
            running = asyncio.ensure_future(worker.work_one())
            await until_sleeping(clock)  # the job's timeout timer is parked on the clock
            clock.advance(29)
            await asyncio.sleep(0)
            assert not running.done(), "cancelled before its timeout"
            clock.advance(1)
            assert await asyncio.wait_for(running, WAIT) is True
        assert cancelled.is_set(), "the async job was cancelled, not left running"
        assert await worker.work_one() is True  # a job within its timeout is unaffected
    finally:
        release_thread.set()

    failures = [codec.decode_failure(r) for r in await backend.failures(0, -1)]
    assert [(f.job.class_name, f.exception) for f in failures] == [
        ("hangs", "JobTimeout"),
        ("hangs_sync", "JobTimeout"),
    ]
    assert "timeout of 30 s" in (failures[0].error or "")
    assert [args[2] for name, args in log.events if name == "success"] == ["done"]
    assert await backend.stats() == {
        "failed": 2,
        f"failed:{worker.name}": 2,
        "processed": 1,
        f"processed:{worker.name}": 1,
    }


def test_a_job_timeout_must_be_positive_seconds() -> None:
    async def job() -> None: ...

    for bad in (0, -1, True, "5"):
        with pytest.raises(ConfigError, match="timeout"):
            JobDefinition(job, timeout=bad)  # type: ignore[arg-type]


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("this exception cannot be printed")


async def test_a_job_whose_error_cannot_be_printed_is_a_recorded_failure(
    backend: Backend, jobs: Jobs
) -> None:
    # str(error) raising used to escape the runner and end the worker's loop for good
    async def unprintable() -> None:
        raise Unprintable

    jobs.register("unprintable", unprintable)
    queue = Queue(backend)
    await queue.enqueue("math", "unprintable")
    await queue.enqueue("math", "add", [1, 2])
    log = await run_until(make_worker(backend, jobs))
    (failure,) = await queue.failed()
    assert (failure.job.class_name, failure.exception) == ("unprintable", "Unprintable")
    assert "crash" not in log.names()


def held_job_failures(failures: list[codec.Failure]) -> list[tuple[str, str, str | None]]:
    return [(f.worker, f.job.class_name, f.exception) for f in failures]


async def test_a_worker_whose_loop_dies_stops_pinging_says_why_and_still_ends_cleanly(
    backend: Backend, jobs: Jobs, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A bug (here: in the job runner) ends the loop while a job is held. The worker must not
    # keep pinging as if alive: the scheduler's stuck-worker check then recovers the job.
    async def broken(self: JobRunner, reservation: Any) -> Any:
        raise RuntimeError("a bug in the runner")

    monkeypatch.setattr(JobRunner, "process", broken)
    caplog.set_level(logging.WARNING, logger="taskcore.worker")
    clock = FakeClock()
    queue = Queue(backend, clock=clock)
    await queue.enqueue("math", "add", [1, 2])
    worker = make_worker(backend, jobs, clock=clock, timeout=5.0)
    log = EventLog(worker)
    await worker.start()
    try:
        (error,) = await log.wait_for("crash")
        assert isinstance(error, RuntimeError)
        assert not worker.running
        (logged,) = [r for r in caplog.records if r.name == "taskcore.worker"]
        assert logged.levelno == logging.ERROR
        assert "host:1" in logged.getMessage() and "a bug in the runner" in logged.getMessage()
        assert clock.sleepers == 0, "the heartbeat still runs"
        clock.advance(61)
        scheduler = Scheduler(backend, name="sched", clock=clock, stuck_worker_timeout=60)
        assert await scheduler.poll()
        assert held_job_failures(await queue.failed()) == [
            ("host:1", "add", "Worker Timeout (killed manually)")
        ]
    finally:
        await asyncio.wait_for(worker.end(), WAIT)  # does not raise the loop's error
    assert log.names()[-1] == "end"
    assert await backend.list_workers() == []
    assert await backend.worker_pings() == []


async def test_a_worker_cleaned_while_alive_registers_again_at_its_next_heartbeat(
    backend: Backend, jobs: Jobs, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="taskcore.worker")
    clock = FakeClock()
    queue = Queue(backend, clock=clock)
    worker = make_worker(backend, jobs, clock=clock, timeout=5.0)
    log = EventLog(worker)
    await worker.start()
    try:
        await log.wait_for("pause")
        # a scheduler judged it dead (a stalled link, a skewed clock) while it was running
        assert await queue.force_clean_worker("host:1") == []
        assert await queue.workers() == {}
        await until_sleeping(clock)
        clock.advance(5.0)
        await log.wait_for("reregistered")
        assert await queue.workers() == {"host:1": "math"}
        assert await backend.worker_started(worker.worker_id) == int(clock.now())
        assert [p.name for p in await backend.worker_pings()] == ["host:1"]
        assert any(
            r.levelno == logging.WARNING and "host:1" in r.getMessage() for r in caplog.records
        )
        await queue.enqueue("math", "add", [1, 2])
        await log.wait_for("success")
    finally:
        await worker.end()


async def test_a_job_reserved_after_the_worker_was_cleaned_is_recovered_when_it_dies(
    backend: Backend,
) -> None:
    # Cleaned while alive, the worker reserves a job, then its process is killed: the next
    # scheduler pass must find that job (it used to sit in a record no scheduler looked at).
    clock = FakeClock()
    queue = Queue(backend, clock=clock)

    async def block() -> None:
        await asyncio.Event().wait()

    worker = make_worker(backend, Jobs({"block": block}), clock=clock, timeout=5.0)
    log = EventLog(worker)
    await worker.start()
    try:
        await log.wait_for("pause")
        await queue.force_clean_worker("host:1")
        await queue.enqueue("math", "block")
        await log.wait_for("job")
        await until_sleeping(clock)
        clock.advance(5.0)  # its next heartbeat
        await log.wait_for("ping", count=2)
        assert await queue.workers() == {"host:1": "math"}
        await kill(worker)
        clock.advance(61)
        scheduler = Scheduler(backend, name="sched", clock=clock, stuck_worker_timeout=60)
        assert await scheduler.poll()
        assert held_job_failures(await queue.failed()) == [
            ("host:1", "block", "Worker Timeout (killed manually)")
        ]
        assert await queue.workers() == {}
    finally:
        await worker.end()


async def kill(worker: Worker) -> None:
    """Stop ``worker``'s tasks as ``kill -9`` stops its process: nothing is recorded or
    unregistered."""
    tasks = [t for t in (worker._loop_task, worker._ping_task) if t is not None]
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_outcome_whose_record_vanished_with_the_worker_is_recorded_not_dropped(
    backend: Backend, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The call recording the outcome fails; meanwhile a scheduler cleaned the worker. Reading
    # back finds no record and no registration: storage cannot tell whether the outcome was
    # recorded, so it is recorded (again) rather than dropped.
    queue = Queue(backend)
    real = backend.complete_and_reserve
    calls = 0

    async def cleaned_then_lost(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            await queue.force_clean_worker("host:1")
            raise BackendUnavailable("reply lost; is the network up?")
        return await real(*args, **kwargs)

    monkeypatch.setattr(backend, "complete_and_reserve", cleaned_then_lost)
    await queue.enqueue("math", "add", [1, 2])
    worker = make_worker(backend, jobs, timeout=0.05)
    log = EventLog(worker)
    await worker.start()
    try:
        await log.wait_for("error")
        await log.wait_for("pause")
    finally:
        await worker.end()
    stats = await backend.stats()
    assert stats.get("processed") == 1, "the job's success was dropped"
    # the clean recorded the held job as failed too: a double count, never a lost outcome
    assert held_job_failures(await queue.failed()) == [
        ("host:1", "add", "Worker Timeout (killed manually)")
    ]


async def test_a_sync_job_can_notice_that_it_was_cancelled(backend: Backend) -> None:
    from taskcore.perform import cancel_event, cancel_requested

    noticed = threading.Event()

    def cooperative() -> None:
        assert not cancel_requested()
        if cancel_event().wait(WAIT):  # sleeps, but wakes at once when cancelled
            assert cancel_requested()
            noticed.set()

    await Queue(backend).enqueue("math", "cooperative")
    worker = make_worker(backend, Jobs({"cooperative": cooperative}), shutdown_timeout=0.05)
    log = EventLog(worker)
    await worker.start()
    await log.wait_for("job")
    await asyncio.wait_for(worker.end(), WAIT)
    assert await asyncio.to_thread(noticed.wait, WAIT), "the job's thread was not told"
    (failure,) = await Queue(backend).failed()
    assert failure.exception == "ShutdownDeadlineExceeded"
    assert not cancel_requested()  # outside a job: never cancelled


async def test_a_pool_ends_a_crashed_child_and_replaces_it(
    backend: Backend, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = JobRunner.process
    crashes = [RuntimeError("a bug in the runner")]

    async def once_broken(self: JobRunner, reservation: Any) -> Any:
        if crashes:
            raise crashes.pop()
        return await real(self, reservation)

    monkeypatch.setattr(JobRunner, "process", once_broken)
    queue = Queue(backend)
    await queue.enqueue("math", "add", [1, 2])
    pool = MultiWorker(
        backend,
        jobs,
        queues=["math"],
        name="pool",
        min_workers=1,
        max_workers=1,
        check_interval=0.01,
        timeout=30.0,
    )
    log = EventLog(pool)
    await pool.start()
    try:
        (crashed, _) = await log.wait_for("crash")
        await log.wait_for("end", lambda name, *_: name == crashed)
        await queue.enqueue("math", "add", [3, 4])
        (*_, result, _) = await log.wait_for("success")
        assert result == 7
        assert len(log.args("start")) == 2  # a new child took over
        # the crashed child's held job was recorded when the pool ended it
        (failure,) = await queue.failed()
        assert (failure.worker, failure.job, failure.exception) == (
            crashed,
            codec.Job("add", "math", [1, 2]),
            "WorkerShutdown",
        )
    finally:
        await pool.end()
    assert await backend.list_workers() == []


async def test_a_worker_without_a_clock_pings_on_the_storage_servers_clock(
    backend: Backend, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This machine's clock is 10 minutes behind the storage server's: a scheduler elsewhere
    # would judge every ping of this worker 10 minutes old and clean it while it runs.
    real_time = backend.server_time

    async def ahead() -> float:
        return await real_time() + 600

    monkeypatch.setattr(backend, "server_time", ahead)
    worker = make_worker(backend, jobs)
    await worker.start()
    try:
        (ping,) = await backend.worker_pings()
        server_now = await real_time() + 600
        assert abs(ping.time - server_now) <= 5
    finally:
        await worker.end()
