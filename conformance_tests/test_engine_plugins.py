"""The standard plugins (and a custom one) on every driver, through the Queue and the Worker.

Jobs run with ``Worker.work_one()``; time is a FakeClock and delayed jobs are promoted with
``backend.promote_due(clock.now())``, so nothing sleeps.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, ClassVar

import pytest

from taskcore.backend import Backend
from taskcore.clock import FakeClock
from taskcore.codec import Job
from taskcore.jobs import Jobs
from taskcore.plugins.base import Plugin
from taskcore.plugins.retry import args_key
from taskcore.queue import Queue
from taskcore.worker import Worker

__all__ = [
    "CustomPluginContract",
    "DelayQueueLockContract",
    "JobLockContract",
    "NoopContract",
    "QueueLockContract",
    "RetryContract",
]

START = 1_800_000_000.0
NAME = "host:1"


class Busted(Exception):
    pass


async def add(a: int, b: int) -> int:
    return a + b


async def broken(*args: Any) -> None:
    raise Busted("BUSTED")


async def retry_keys(backend: Backend) -> dict[str, str]:
    """The Retry plugin's keys in storage (attempt counters and last errors)."""
    found = await backend.list_locks("resque-retry:")
    found.update(await backend.list_locks("failure-resque-retry:"))
    return found


class Events:
    """Records a worker's success/failure/re_enqueue events in order."""

    def __init__(self, worker: Worker) -> None:
        self.seen: list[tuple[str, Any]] = []
        worker.on("success", lambda q, job, result, d: self.seen.append(("success", result)))
        worker.on("failure", lambda q, job, err, d: self.seen.append(("failure", err)))
        worker.on("re_enqueue", lambda q, job, info: self.seen.append(("re_enqueue", info)))

    def names(self) -> list[str]:
        return [name for name, _ in self.seen]


class PluginFixtures:
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock(START)

    @staticmethod
    def setup(
        backend: Backend, clock: FakeClock, jobs: Jobs, name: str = NAME
    ) -> tuple[Queue, Worker]:
        worker = Worker(backend, jobs, queues=["math"], name=name, clock=clock)
        return worker.queue, worker


class QueueLockContract(PluginFixtures):
    """QueueLock: one queued copy per (class, queue, args); lock TTL; stale takeover."""

    @staticmethod
    def jobs(**options: Any) -> Jobs:
        jobs = Jobs()
        jobs.register("add", add, plugins=["QueueLock"], plugin_options={"QueueLock": options})
        return jobs

    async def test_same_args_are_not_queued_twice(self, backend: Backend, clock: FakeClock) -> None:
        queue, _ = self.setup(backend, clock, self.jobs())
        assert await queue.enqueue("math", "add", [1, 2]) is True
        assert await queue.enqueue("math", "add", [1, 2]) is False
        assert await queue.enqueue("math", "add", [2, 1]) is True
        assert await queue.queued("math") == [
            Job("add", "math", [1, 2]),
            Job("add", "math", [2, 1]),
        ]

    async def test_lock_key_value_and_ttl_in_seconds(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        queue, _ = self.setup(backend, clock, self.jobs(lock_timeout=500))
        await queue.enqueue("math", "add", [1, 2])
        assert await queue.locks() == {"lock:add:math:[1,2]": str(int(START) + 500 + 1)}
        ttl = await backend.lock_ttl("lock:add:math:[1,2]")
        assert ttl is not None and 498 <= ttl <= 500

    async def test_a_stale_lock_is_taken_over(self, backend: Backend, clock: FakeClock) -> None:
        queue, _ = self.setup(backend, clock, self.jobs(lock_timeout=30))
        # a lock left without a TTL whose stale-after second has passed
        await backend.set_lock("lock:add:math:[1,2]", str(int(START) - 1), None)
        assert await queue.enqueue("math", "add", [1, 2]) is True
        assert await backend.get_lock("lock:add:math:[1,2]") == str(int(START) + 31)
        ttl = await backend.lock_ttl("lock:add:math:[1,2]")
        assert ttl is not None and 28 <= ttl <= 30
        # one that is not stale yet still blocks
        await backend.set_lock("lock:add:math:[3,4]", str(int(START) + 10), None)
        assert await queue.enqueue("math", "add", [3, 4]) is False
        assert await queue.length("math") == 1

    async def test_concurrent_enqueuers_take_over_a_stale_lock_once(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        # Every enqueuer reads the stale value before any of them replaces it (a barrier in
        # get_lock forces that interleaving); exactly one may still win the lock.
        barrier = asyncio.Barrier(8)

        class SeeStaleTogether:
            def __getattr__(self, name: str) -> Any:
                return getattr(backend, name)

            async def get_lock(self, name: str) -> str | None:
                value = await backend.get_lock(name)
                await barrier.wait()
                return value

        queue = Queue(SeeStaleTogether(), self.jobs(lock_timeout=30), clock=clock)  # type: ignore[arg-type]
        await backend.set_lock("lock:add:math:[1,2]", str(int(START) - 1), None)
        results = await asyncio.gather(*(queue.enqueue("math", "add", [1, 2]) for _ in range(8)))
        assert sorted(results) == [False] * 7 + [True]
        assert await backend.queue_length("math") == 1

    async def test_the_lock_is_released_when_a_worker_takes_the_job(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        queue, worker = self.setup(backend, clock, self.jobs())
        await queue.enqueue("math", "add", [1, 2])
        assert await worker.work_one() is True
        assert await queue.locks() == {}
        assert await queue.enqueue("math", "add", [1, 2]) is True

    async def test_the_lock_is_released_even_if_a_later_plugin_skips_the_job(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        jobs = Jobs()
        jobs.register("add", add, plugins=["QueueLock", SkipPerform])
        queue, worker = self.setup(backend, clock, jobs)
        await queue.enqueue("math", "add", [1, 2])
        assert await worker.work_one() is True
        assert await queue.locks() == {}
        assert await queue.stats() == {}

    async def test_custom_key(self, backend: Backend, clock: FakeClock) -> None:
        queue, _ = self.setup(backend, clock, self.jobs(key=lambda p: f"lock:by-class:{p.func}"))
        assert await queue.enqueue("math", "add", [1, 2]) is True
        assert await queue.enqueue("math", "add", [3, 4]) is False
        assert list(await queue.locks()) == ["lock:by-class:add"]


class JobLockContract(PluginFixtures):
    """JobLock: one running copy per (class, queue, args) across workers."""

    @staticmethod
    def jobs(perform: Any = add, **options: Any) -> Jobs:
        jobs = Jobs()
        jobs.register("job", perform, plugins=["JobLock"], plugin_options={"JobLock": options})
        return jobs

    async def test_the_lock_is_held_while_the_job_runs_and_released_after(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        seen: list[dict[str, str]] = []
        queue: Queue | None = None

        async def perform(a: int) -> None:
            assert queue is not None
            seen.append(await queue.locks())
            if a < 0:
                raise Busted("negative")

        queue, worker = self.setup(backend, clock, self.jobs(perform, lock_timeout=60))
        await queue.enqueue("math", "job", [1])
        await queue.enqueue("math", "job", [-1])
        assert await worker.work_one() is True
        assert await worker.work_one() is True
        assert seen == [
            {"workerslock:job:math:[1]": str(int(START) + 61)},
            {"workerslock:job:math:[-1]": str(int(START) + 61)},
        ]
        assert await queue.locks() == {}  # released after a success and after a failure
        assert (await queue.stats())["failed"] == 1

    async def test_a_second_copy_waits_and_is_re_enqueued(
        self, backend: Backend, backend_factory: Any, clock: FakeClock
    ) -> None:
        release = asyncio.Event()
        started = asyncio.Event()
        runs: list[int] = []

        async def slow(a: int, b: int) -> int:
            runs.append(a + b)
            started.set()
            await release.wait()
            return a + b

        jobs = self.jobs(slow)
        queue, first = self.setup(backend, clock, jobs, name="host:1")
        _, second = self.setup(await backend_factory(), clock, jobs, name="host:2")
        await queue.enqueue("math", "job", [1, 2])
        await queue.enqueue("math", "job", [1, 2])
        running = asyncio.ensure_future(first.work_one())
        await asyncio.wait_for(started.wait(), 10)
        assert await second.work_one() is True
        assert runs == [3]  # the copy did not run alongside
        # re-enqueued enqueue_timeout (1001 ms) later, at the rounded second
        assert await queue.scheduled_at("math", "job", [1, 2]) == [int(START) + 1]
        assert await queue.stats() == {}  # a skipped job counts neither way
        release.set()
        assert await running is True
        clock.advance(1.5)  # due at the stored second + 0.5: never early
        await backend.promote_due(clock.now())
        assert await second.work_one() is True
        assert runs == [3, 3]
        assert (await queue.stats())["processed"] == 2

    async def test_re_enqueue_false_drops_the_copy(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        ran: list[int] = []

        async def perform(a: int) -> None:
            ran.append(a)

        queue, worker = self.setup(backend, clock, self.jobs(perform, re_enqueue=False))
        await backend.set_lock("workerslock:job:math:[1]", "held elsewhere", 60)
        await queue.enqueue("math", "job", [1])
        await queue.enqueue("math", "job", [2])
        assert await worker.work_one() is True
        assert await worker.work_one() is True
        assert ran == [2]  # other args are not locked
        assert await queue.timestamps() == []
        assert await queue.length("math") == 0
        assert await backend.get_lock("workerslock:job:math:[1]") == "held elsewhere"

    async def test_custom_key_function_gets_the_plugin(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        calls: list[tuple[str, str, list[Any]]] = []

        def key(plugin: Plugin) -> str:
            calls.append((plugin.func, plugin.queue, plugin.args))
            return f"workerslock:custom:{plugin.args[0]}"

        seen: list[dict[str, str]] = []
        queue: Queue | None = None

        async def perform(a: int) -> None:
            assert queue is not None
            seen.append(await queue.locks())

        queue, worker = self.setup(backend, clock, self.jobs(perform, key=key))
        await queue.enqueue("math", "job", [7])
        await worker.work_one()
        assert list(seen[0]) == ["workerslock:custom:7"]
        assert calls[0] == ("job", "math", [7])
        assert await queue.locks() == {}

    async def test_a_job_that_never_took_the_lock_leaves_another_workers_lock(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        # An earlier plugin's before_perform raised, so JobLock's never ran; its after_perform
        # still runs (the job failed) and must not delete the lock a running copy holds.
        jobs = Jobs()
        jobs.register("job", add, plugins=[FailBeforePerform, "JobLock"])
        queue, worker = self.setup(backend, clock, jobs)
        await backend.set_lock("workerslock:job:math:[1,2]", "held by host:2", 60)
        await queue.enqueue("math", "job", [1, 2])
        assert await worker.work_one() is True
        assert (await queue.stats())["failed"] == 1
        assert await backend.get_lock("workerslock:job:math:[1,2]") == "held by host:2"


class DelayQueueLockContract(PluginFixtures):
    """DelayQueueLock: no immediate copy while the same job is scheduled."""

    @staticmethod
    def jobs() -> Jobs:
        jobs = Jobs()
        jobs.register("add", add, plugins=["DelayQueueLock"])
        return jobs

    async def test_blocks_enqueue_while_the_job_is_delayed(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        queue, _ = self.setup(backend, clock, self.jobs())
        assert await queue.enqueue_in(10_000, "math", "add", [1, 2]) is True
        assert await queue.enqueue("math", "add", [1, 2]) is False
        assert await queue.length("math") == 0
        assert await queue.enqueue("math", "add", [2, 1]) is True
        assert await queue.length("math") == 1
        clock.advance(10.5)  # due at the stored second + 0.5: never early
        await backend.promote_due(clock.now())
        assert await queue.enqueue("math", "add", [1, 2]) is True
        assert await queue.length("math") == 3


class RetryContract(PluginFixtures):
    """Retry: attempts, delays and backoff, counters, retry keys with TTLs in seconds."""

    @staticmethod
    def jobs(perform: Any = broken, **options: Any) -> Jobs:
        jobs = Jobs()
        jobs.register("brokenJob", perform, plugins=["Retry"], plugin_options={"Retry": options})
        return jobs

    async def run_and_promote(self, backend: Backend, clock: FakeClock, worker: Worker) -> bool:
        ran = await worker.work_one()
        clock.advance(3600)
        await backend.promote_due(clock.now())
        return ran

    async def test_a_succeeding_job_leaves_no_trace(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        queue, worker = self.setup(backend, clock, self.jobs(add, retry_limit=3))
        events = Events(worker)
        await queue.enqueue("math", "brokenJob", [1, 2])
        assert await worker.work_one() is True
        assert events.seen == [("success", 3)]
        assert await queue.failed_count() == 0
        assert await retry_keys(backend) == {}

    async def test_an_identical_copy_failing_in_the_same_second_is_not_dropped(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        # resque keeps one copy of a payload per second in the delayed set: the second copy's
        # retry cannot be scheduled, so its failure must be recorded, not silently discarded.
        queue, worker = self.setup(backend, clock, self.jobs(retry_limit=5, retry_delay=1000))
        await queue.enqueue("math", "brokenJob", [1, 2])
        await queue.enqueue("math", "brokenJob", [1, 2])
        assert await worker.work_one() is True
        assert await worker.work_one() is True
        assert len(await queue.scheduled_at("math", "brokenJob", [1, 2])) == 1
        (failure,) = await queue.failed()
        assert failure.job == Job("brokenJob", "math", [1, 2])
        assert (await queue.stats())["failed"] == 2

    async def test_retries_until_the_limit_then_fails_once(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        queue, worker = self.setup(backend, clock, self.jobs(retry_limit=3, retry_delay=100))
        events = Events(worker)
        await queue.enqueue("math", "brokenJob", [1, 2])
        for _ in range(3):
            assert await self.run_and_promote(backend, clock, worker) is True
        assert await worker.work_one() is False  # nothing left
        assert events.names() == ["re_enqueue", "re_enqueue", "failure"]
        infos = [info for name, info in events.seen if name == "re_enqueue"]
        assert [(i["delay"], i["remaining_attempts"]) for i in infos] == [(100, 2), (100, 1)]
        assert all(isinstance(i["error"], Busted) for i in infos)
        assert await queue.failed_count() == 1
        assert (await queue.failed())[0].exception == "Busted"
        stats = await queue.stats()
        assert stats.get("processed", 0) == 0
        assert stats.get(f"processed:{NAME}", 0) == 0
        assert stats["failed"] == 3
        assert stats[f"failed:{NAME}"] == 3
        assert await retry_keys(backend) == {}  # both retry keys removed at the end

    async def test_retry_limit_counts_total_attempts(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        queue, worker = self.setup(backend, clock, self.jobs(retry_limit=5, retry_delay=0))
        events = Events(worker)
        await queue.enqueue("math", "brokenJob", [1, 2])
        while await self.run_and_promote(backend, clock, worker):
            pass
        assert events.names() == ["re_enqueue"] * 4 + ["failure"]
        assert await queue.failed_count() == 1

    async def test_a_retried_failure_is_scheduled_not_failed(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        queue, worker = self.setup(backend, clock, self.jobs(retry_limit=3, retry_delay=5000))
        await queue.enqueue("math", "brokenJob", [1, 2])
        await worker.work_one()
        assert await queue.scheduled_at("math", "brokenJob", [1, 2]) == [int(START) + 5]
        assert await queue.failed_count() == 0
        assert await queue.length("math") == 0

    async def test_backoff_strategy_picks_the_delay_per_attempt(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        queue, worker = self.setup(
            backend, clock, self.jobs(retry_limit=4, backoff_strategy=[1000, 5000])
        )
        await queue.enqueue("math", "brokenJob", [1])
        delays = []
        for _ in range(3):
            now = int(clock.now())
            assert await worker.work_one() is True
            (second,) = await queue.scheduled_at("math", "brokenJob", [1])
            delays.append(second - now)
            clock.advance(3600)
            await backend.promote_due(clock.now())
        assert delays == [1, 5, 5]  # element n-1 for retry n, then the last one

    async def test_retry_keys_hold_the_count_and_last_error_with_ttls_in_seconds(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        queue, worker = self.setup(
            backend,
            clock,
            self.jobs(retry_limit=3, backoff_strategy=[1000, 120_000], expire_retry_key_after=60),
        )
        await queue.enqueue("math", "brokenJob", [1, 2])
        await worker.work_one()
        assert await backend.get_lock("resque-retry:brokenJob:1-2") == "0"
        last = await backend.get_lock("failure-resque-retry:brokenJob:1-2")
        assert last is not None
        record = json.loads(last)
        assert list(record) == [
            "failed_at",
            "payload",
            "exception",
            "error",
            "backtrace",
            "worker",
            "queue",
        ]
        assert record["payload"] == [1, 2]
        assert record["exception"] == record["error"] == "Busted: BUSTED"
        assert record["worker"] == "brokenJob"
        assert record["queue"] == "math"
        assert any("BUSTED" in line for line in record["backtrace"])
        # the longest delay, 120 s, plus the 60 s margin: seconds, not the ms number
        for key in ("resque-retry:brokenJob:1-2", "failure-resque-retry:brokenJob:1-2"):
            ttl = await backend.lock_ttl(key)
            assert ttl is not None and 178 <= ttl <= 180
        clock.advance(3600)
        await backend.promote_due(clock.now())
        await worker.work_one()
        assert await backend.get_lock("resque-retry:brokenJob:1-2") == "1"

    async def test_default_ttl_is_the_delay_in_seconds_plus_an_hour(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        queue, worker = self.setup(backend, clock, self.jobs(retry_limit=2))
        await queue.enqueue("math", "brokenJob", [])
        await worker.work_one()
        ttl = await backend.lock_ttl("resque-retry:brokenJob")
        assert ttl is not None and 3603 <= ttl <= 3605
        assert await backend.get_lock("failure-resque-retry:brokenJob:") is not None

    async def test_success_after_a_failure_clears_the_keys(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        attempts: list[int] = []

        async def flaky(n: int) -> str:
            attempts.append(n)
            if len(attempts) == 1:
                raise Busted("first time")
            return "ok"

        queue, worker = self.setup(backend, clock, self.jobs(flaky, retry_limit=3, retry_delay=0))
        events = Events(worker)
        await queue.enqueue("math", "brokenJob", [9])
        await self.run_and_promote(backend, clock, worker)
        assert await backend.get_lock("resque-retry:brokenJob:9") == "0"
        await self.run_and_promote(backend, clock, worker)
        assert events.names() == ["re_enqueue", "success"]
        assert await retry_keys(backend) == {}
        stats = await queue.stats()
        assert (stats["processed"], stats["failed"]) == (1, 1)

    def test_args_key_matches_node_resque(self) -> None:
        assert args_key(["x", {"y": 1}]) == 'x-{"y":1}'
        assert args_key([1, 2.0, True, None, [1]]) == "1-2-true-null-[1]"
        assert args_key([]) == ""


class NoopContract(PluginFixtures):
    """Noop: a failure is logged and counted as a success, never written to the failed list."""

    @staticmethod
    def jobs(perform: Any = broken, **options: Any) -> Jobs:
        jobs = Jobs()
        jobs.register("job", perform, plugins=["Noop"], plugin_options={"Noop": options})
        return jobs

    async def test_a_failure_goes_to_the_logger_and_counts_as_success(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        logged: list[BaseException] = []
        queue, worker = self.setup(backend, clock, self.jobs(logger=logged.append))
        events = Events(worker)
        await queue.enqueue("math", "job", [1])
        await worker.work_one()
        assert [type(e) for e in logged] == [Busted]
        assert events.names() == ["success"]
        assert await queue.failed_count() == 0
        stats = await queue.stats()
        assert stats["processed"] == 1
        assert stats.get("failed", 0) == 0

    async def test_without_a_logger_the_error_is_logged(
        self, backend: Backend, clock: FakeClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        queue, worker = self.setup(backend, clock, self.jobs())
        await queue.enqueue("math", "job", [1])
        with caplog.at_level(logging.ERROR, logger="taskcore.plugins.noop"):
            await worker.work_one()
        assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [Busted]
        assert await queue.failed_count() == 0

    async def test_a_successful_job_is_not_logged(self, backend: Backend, clock: FakeClock) -> None:
        logged: list[BaseException] = []
        queue, worker = self.setup(backend, clock, self.jobs(add, logger=logged.append))
        events = Events(worker)
        await queue.enqueue("math", "job", [1, 2])
        await worker.work_one()
        assert logged == []
        assert events.seen == [("success", 3)]


class SkipPerform(Plugin):
    """A custom plugin whose before_perform stops the job."""

    async def before_perform(self) -> bool:
        return False


class FailBeforePerform(Plugin):
    """A custom plugin whose before_perform raises (e.g. its storage call failed)."""

    async def before_perform(self) -> bool:
        raise Busted("before_perform failed")


class Recorder(Plugin):
    """A custom plugin that records every hook call with its options, and can block or rescue."""

    defaults: ClassVar[dict[str, Any]] = {"log": None, "tag": "?", "block": None, "rescue": False}

    def _note(self, hook: str) -> None:
        self.options["log"].append((self.options["tag"], hook))

    async def before_enqueue(self) -> bool:
        self._note("before_enqueue")
        return self.options["block"] != "before_enqueue"

    async def after_enqueue(self) -> bool:
        self._note("after_enqueue")
        return True

    async def before_perform(self) -> bool:
        self._note("before_perform")
        return self.options["block"] != "before_perform"

    async def after_perform(self) -> bool:
        self._note("after_perform" + ("!" if self.error is not None else ""))
        if self.options["rescue"]:
            self.error = None
        return True


class Second(Recorder):
    name = "Second"


class CustomPluginContract(PluginFixtures):
    """A user's Plugin subclass: hook order, options, blocking, rescuing a failure."""

    @staticmethod
    def jobs(perform: Any, log: list[Any], **first: Any) -> Jobs:
        jobs = Jobs()
        jobs.register(
            "job",
            perform,
            plugins=[Recorder, Second],
            plugin_options={"Recorder": {"log": log, "tag": "A", **first}, "Second": {"log": log}},
        )
        return jobs

    async def test_hooks_run_in_plugin_order_around_enqueue_and_perform(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        log: list[Any] = []
        queue, worker = self.setup(backend, clock, self.jobs(add, log))
        await queue.enqueue("math", "job", [1, 2])
        await worker.work_one()
        assert log == [
            ("A", "before_enqueue"),
            ("?", "before_enqueue"),
            ("A", "after_enqueue"),
            ("?", "after_enqueue"),
            ("A", "before_perform"),
            ("?", "before_perform"),
            ("A", "after_perform"),
            ("?", "after_perform"),
        ]

    async def test_a_false_before_enqueue_stops_the_chain_and_the_write(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        log: list[Any] = []
        queue, _ = self.setup(backend, clock, self.jobs(add, log, block="before_enqueue"))
        assert await queue.enqueue("math", "job", [1, 2]) is False
        assert log == [("A", "before_enqueue")]
        assert await queue.length("math") == 0

    async def test_a_false_before_perform_skips_the_job_without_counting_it(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        log: list[Any] = []
        ran: list[Any] = []

        async def perform(*args: Any) -> None:
            ran.append(args)

        queue, worker = self.setup(backend, clock, self.jobs(perform, log, block="before_perform"))
        events = Events(worker)
        await queue.enqueue("math", "job", [1])
        assert await worker.work_one() is True
        assert ran == []
        assert log[-1] == ("A", "before_perform")
        assert events.seen == []
        assert await queue.stats() == {}
        assert await queue.failed_count() == 0

    async def test_after_perform_sees_the_error_and_may_rescue_it(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        log: list[Any] = []
        queue, worker = self.setup(backend, clock, self.jobs(broken, log, rescue=True))
        events = Events(worker)
        await queue.enqueue("math", "job", [1])
        await worker.work_one()
        # the first plugin saw the error and cleared it; the second saw a success
        assert log[-2:] == [("A", "after_perform!"), ("?", "after_perform")]
        assert events.names() == ["success"]
        assert await queue.failed_count() == 0


class TestQueueLock(QueueLockContract):
    pass


class TestJobLock(JobLockContract):
    pass


class TestDelayQueueLock(DelayQueueLockContract):
    pass


class TestRetry(RetryContract):
    pass


class TestNoop(NoopContract):
    pass


class TestCustomPlugin(CustomPluginContract):
    pass
