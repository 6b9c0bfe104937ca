"""The Queue API on every driver: enqueue, delayed jobs, inspection, workers, failed jobs.

Each test pins a behaviour a user relies on (node-resque's Queue, with its bugs fixed where the
test says so). Time comes from a FakeClock, so nothing sleeps.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from taskcore.backend import Backend, Outcome, WorkerId
from taskcore.cli import main
from taskcore.clock import FakeClock, StorageClock
from taskcore.codec import (
    Failure,
    Job,
    decode_failure,
    encode_failure,
    encode_job,
    js_date,
    unembed_payload,
)
from taskcore.errors import DuplicateJobError, JobNotFound, MalformedPayload
from taskcore.jobs import Jobs
from taskcore.malformed import MalformedFailure, MalformedJob
from taskcore.plugins.base import Plugin
from taskcore.queue import Queue
from taskcore.scheduler import Scheduler

__all__ = [
    "QueueClockContract",
    "QueueContract",
    "QueueFailuresContract",
    "QueueMalformedContract",
    "QueueWorkersContract",
]

START = 1_800_000_000.0


async def noop(*args: Any) -> None:
    return None


class Gate(Plugin):
    """A test plugin: ``before_enqueue`` returns the ``allow`` option; records what it saw."""

    defaults: ClassVar[dict[str, Any]] = {"allow": True, "seen": None}

    async def before_enqueue(self) -> bool:
        if self.options["seen"] is not None:
            self.options["seen"].append(("before", self.queue, self.func, self.args))
        return bool(self.options["allow"])

    async def after_enqueue(self) -> bool:
        if self.options["seen"] is not None:
            length = await self.context.queue_api.length(self.queue)
            self.options["seen"].append(("after", length))
        return True


def gated_jobs(allow: bool, seen: list[Any] | None = None) -> Jobs:
    jobs = Jobs()
    jobs.register(
        "gated", noop, plugins=[Gate], plugin_options={"Gate": {"allow": allow, "seen": seen}}
    )
    return jobs


def job_failure(n: int, *, stuck: bool = False, func: str = "add") -> str:
    """A failure record for job ``func(n)`` on "math": as a worker writes it when the job
    raised, or (``stuck``) as force_clean_worker writes it."""
    timeout = "Worker Timeout (killed manually)"
    return encode_failure(
        worker="dead:1" if stuck else "host:1",
        queue="math",
        payload=encode_job(func, "math", [n]),
        exception=timeout if stuck else "ValueError",
        error=timeout if stuck else f"bad {n}",
        backtrace=(
            ["killed by test", "queue#forceCleanWorker", "taskcore"]
            if stuck
            else ["Traceback (most recent call last):", "  File x"]
        ),
        failed_at=js_date(START),
    )


def stuck_failure(n: int) -> str:
    """A failure record as force_clean_worker writes it, for job add(n)."""
    return job_failure(n, stuck=True)


def parsed(text: str) -> Any:
    """``text`` as JSON, or None when it is not JSON Python can read."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


class QueueFixtures:
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock(START)

    @pytest.fixture
    def queue(self, backend: Backend, clock: FakeClock) -> Queue:
        return Queue(backend, clock=clock)


class QueueContract(QueueFixtures):
    """Enqueue (now, front, at, in), inspection and removal, delayed-job views."""

    async def test_enqueue_writes_the_resque_payload_at_the_tail(
        self, queue: Queue, backend: Backend
    ) -> None:
        assert await queue.enqueue("math", "add", [1, 2]) is True
        assert await queue.enqueue("math", "add", [3, 4]) is True
        assert await backend.queue_range("math", 0, -1) == [
            '{"class":"add","queue":"math","args":[1,2]}',
            '{"class":"add","queue":"math","args":[3,4]}',
        ]
        assert await queue.length("math") == 2
        assert await queue.queues() == ["math"]
        assert await queue.queued("math") == [
            Job("add", "math", [1, 2]),
            Job("add", "math", [3, 4]),
        ]
        assert await queue.queued("math", 1, 1) == [Job("add", "math", [3, 4])]

    async def test_args_are_arrayified(self, queue: Queue) -> None:
        await queue.enqueue("math", "single", 7)
        await queue.enqueue("math", "none")
        assert [j.args for j in await queue.queued("math")] == [[7], []]

    async def test_enqueue_front_puts_the_job_at_the_head(self, queue: Queue) -> None:
        await queue.enqueue("math", "add", [1])
        assert await queue.enqueue_front("math", "add", [0]) is True
        assert [j.args for j in await queue.queued("math")] == [[0], [1]]

    async def test_a_blocking_before_enqueue_hook_writes_nothing(self, backend: Backend) -> None:
        queue = Queue(backend, gated_jobs(allow=False), clock=FakeClock(START))
        assert await queue.enqueue("math", "gated", [1]) is False
        assert await queue.enqueue_front("math", "gated", [1]) is False
        assert await queue.length("math") == 0
        assert await queue.queues() == []

    async def test_enqueue_hooks_run_before_and_after_the_write(self, backend: Backend) -> None:
        seen: list[Any] = []
        queue = Queue(backend, gated_jobs(allow=True, seen=seen), clock=FakeClock(START))
        assert await queue.enqueue("math", "gated", 5) is True
        assert seen == [("before", "math", "gated", [5]), ("after", 1)]

    async def test_unregistered_classes_enqueue_without_hooks(self, backend: Backend) -> None:
        queue = Queue(backend, gated_jobs(allow=False), clock=FakeClock(START))
        assert await queue.enqueue("math", "other", [1]) is True
        assert await queue.length("math") == 1

    async def test_enqueue_at_stores_whole_seconds_rounded_like_js(
        self, queue: Queue, backend: Backend
    ) -> None:
        assert await queue.enqueue_at(10_000, "math", "add", [1]) is True
        assert await queue.enqueue_at(10_500, "math", "add", [2]) is True  # Math.round: up
        assert await queue.enqueue_at(10_499, "math", "add", [3]) is True
        assert await backend.delayed_timestamps() == [10, 11]
        assert await queue.scheduled_at("math", "add", [1]) == [10]
        assert await queue.scheduled_at("math", "add", [2]) == [11]
        jobs, seconds = await queue.delayed_at(10_400)
        assert seconds == 10
        assert jobs == [Job("add", "math", [1]), Job("add", "math", [3])]
        assert await queue.length("math") == 0

    async def test_enqueue_at_accepts_an_aware_datetime(self, queue: Queue) -> None:
        when = datetime(2027, 1, 15, 8, 0, 0, tzinfo=UTC)
        await queue.enqueue_at(when, "math", "add", [1])
        assert await queue.scheduled_at("math", "add", [1]) == [int(when.timestamp())]

    async def test_enqueue_at_refuses_a_naive_datetime(self, queue: Queue) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            await queue.enqueue_at(datetime(2027, 1, 15), "math", "add", [1])
        assert await queue.timestamps() == []

    async def test_same_job_at_the_same_second_is_a_duplicate(self, queue: Queue) -> None:
        await queue.enqueue_at(10_000, "math", "add", [1, 2])
        with pytest.raises(DuplicateJobError, match="suppress_duplicate"):
            await queue.enqueue_at(10_200, "math", "add", [1, 2])
        assert (
            await queue.enqueue_at(10_000, "math", "add", [1, 2], suppress_duplicate=True) is False
        )
        jobs, _ = await queue.delayed_at(10_000)
        assert jobs == [Job("add", "math", [1, 2])]
        # other args, or another second, are not duplicates
        assert await queue.enqueue_at(10_000, "math", "add", [2, 1]) is True
        assert await queue.enqueue_at(11_000, "math", "add", [1, 2]) is True

    async def test_enqueue_in_counts_milliseconds_from_the_clock(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        await queue.enqueue_in(5_000, "math", "add", [1])
        await queue.enqueue_in(timedelta(minutes=1), "math", "add", [2])
        assert await queue.scheduled_at("math", "add", [1]) == [int(START) + 5]
        assert await queue.scheduled_at("math", "add", [2]) == [int(START) + 60]
        clock.advance(100)
        await queue.enqueue_in(0, "math", "add", [3])
        assert await queue.scheduled_at("math", "add", [3]) == [int(START) + 100]
        with pytest.raises(DuplicateJobError):  # a negative delay is refused: same second by time
            await queue.enqueue_at((int(START) + 5) * 1000, "math", "add", [1])

    async def test_delayed_enqueues_run_no_hooks(self, backend: Backend) -> None:
        queue = Queue(backend, gated_jobs(allow=False), clock=FakeClock(START))
        assert await queue.enqueue_at(10_000, "math", "gated", [1]) is True
        assert await queue.enqueue_in(1_000, "math", "gated", [1]) is True
        assert len(await queue.timestamps()) == 2

    async def test_timestamps_are_milliseconds_in_numeric_order(self, queue: Queue) -> None:
        # node-resque sorts these as strings: [10000, 100000, 1800000000000, 9000]
        for ms in (100_000, 9_000, 1_800_000_000_000, 10_000):
            await queue.enqueue_at(ms, "math", "add", [ms])
        assert await queue.timestamps() == [9_000, 10_000, 100_000, 1_800_000_000_000]

    async def test_all_delayed_maps_milliseconds_to_jobs(self, queue: Queue) -> None:
        await queue.enqueue_at(20_000, "math", "add", [2])
        await queue.enqueue_at(10_000, "math", "add", [1])
        await queue.enqueue_at(10_000, "other", "sub", [])
        assert await queue.all_delayed() == {
            10_000: [Job("add", "math", [1]), Job("sub", "other", [])],
            20_000: [Job("add", "math", [2])],
        }

    async def test_del_delayed_returns_seconds_and_empties_every_view(self, queue: Queue) -> None:
        await queue.enqueue_at(10_000, "math", "add", [1])
        await queue.enqueue_at(20_000, "math", "add", [1])
        await queue.enqueue_at(20_000, "math", "add", [2])
        assert await queue.del_delayed("math", "add", [1]) == [10, 20]
        assert await queue.scheduled_at("math", "add", [1]) == []
        assert await queue.timestamps() == [20_000]
        assert await queue.del_delayed("math", "add", [2]) == [20]
        assert await queue.all_delayed() == {}
        assert await queue.timestamps() == []
        assert await queue.del_delayed("math", "add", [2]) == []

    async def test_scheduled_at_matches_exact_args(self, queue: Queue) -> None:
        await queue.enqueue_at(10_000, "math", "add", [1, 2])
        assert await queue.scheduled_at("math", "add", [1, 2]) == [10]
        assert await queue.scheduled_at("math", "add", [2, 1]) == []
        assert await queue.scheduled_at("other", "add", [1, 2]) == []

    async def test_delete_removes_matching_jobs_with_count(self, queue: Queue) -> None:
        for n in (1, 2, 1, 1):
            await queue.enqueue("math", "add", [n])
        await queue.enqueue("math", "noargs")
        await queue.enqueue("math", "noargs")
        assert await queue.delete("math", "add", [1], count=1) == 1
        assert [j.args for j in await queue.queued("math")][:3] == [[2], [1], [1]]
        assert await queue.delete("math", "add", [1]) == 2
        assert await queue.delete("math", "noargs") == 2
        assert await queue.delete("math", "add", [9]) == 0
        assert await queue.queued("math") == [Job("add", "math", [2])]

    async def test_del_by_function_removes_every_job_of_a_class(self, queue: Queue) -> None:
        await queue.enqueue("math", "add", [1])
        await queue.enqueue("math", "sub", [1])
        await queue.enqueue("math", "add", [2])
        await queue.enqueue("math", "add", [2])
        assert await queue.del_by_function("math", "add") == 3
        assert await queue.queued("math") == [Job("sub", "math", [1])]
        assert await queue.del_by_function("math", "add") == 0

    async def test_del_by_function_respects_the_window(self, queue: Queue) -> None:
        for n in range(4):
            await queue.enqueue("math", "add", [n])
        assert await queue.del_by_function("math", "add", 1, 2) == 2
        assert [j.args for j in await queue.queued("math")] == [[0], [3]]

    async def test_delete_queue_forgets_the_queue(self, queue: Queue) -> None:
        await queue.enqueue("math", "add", [1])
        await queue.enqueue("other", "add", [1])
        await queue.delete_queue("math")
        assert await queue.length("math") == 0
        assert await queue.queues() == ["other"]

    async def test_locks_lists_plugin_locks_only(self, queue: Queue, backend: Backend) -> None:
        await backend.set_lock("lock:add:math:[1]", "123", 60)
        await backend.set_lock("workerslock:add:math:[1]", "456", None)
        await backend.set_lock("resque_scheduler_leader_lock", "sched", 60)
        assert await queue.locks() == {
            "lock:add:math:[1]": "123",
            "workerslock:add:math:[1]": "456",
        }
        assert await queue.del_lock("workerslock:add:math:[1]") == 1
        assert await queue.del_lock("workerslock:add:math:[1]") == 0
        assert await queue.locks() == {"lock:add:math:[1]": "123"}

    async def test_stats_leader_and_details(self, queue: Queue, backend: Backend) -> None:
        assert await queue.leader() is None
        assert await queue.stats() == {}
        await backend.increment_stats({"processed": 2, "failed": 1})
        await backend.acquire_lock("resque_scheduler_leader_lock", "sched-1", 180)
        await queue.enqueue("math", "add", [1])
        await queue.enqueue("math", "add", [2])
        await queue.enqueue("other", "add", [1])
        w = WorkerId("host:1", ("math",))
        await backend.register_worker(w, START)
        assert await queue.leader() == "sched-1"
        assert await queue.stats() == {"processed": 2, "failed": 1}
        details = await queue.details()
        assert details == {
            "queues": {"math": {"length": 2}, "other": {"length": 1}},
            "workers": {"host:1": "started"},
            "stats": {"processed": 2, "failed": 1},
            "leader": "sched-1",
        }


class QueueWorkersContract(QueueFixtures):
    """Worker inspection, force-cleaning and old-worker cleanup."""

    async def _working(
        self, backend: Backend, name: str, queue: str, n: int, now: float
    ) -> WorkerId:
        w = WorkerId(name, (queue,))
        await backend.register_worker(w, now)
        await backend.push(queue, encode_job("add", queue, [n]))
        assert await backend.reserve([queue], w, now) is not None
        return w

    async def test_workers_and_what_they_work_on(self, queue: Queue, backend: Backend) -> None:
        idle = WorkerId("host:1", ("math", "other"))
        await backend.register_worker(idle, START)
        await self._working(backend, "host:2", "math", 7, START)
        star = WorkerId("host:3", ("*",))
        await backend.register_worker(star, START)
        assert await queue.workers() == {"host:1": "math,other", "host:2": "math", "host:3": "*"}
        assert await queue.working_on("host:1", "math,other") is None
        raw = await queue.working_on("host:2", "math")
        assert raw is not None
        assert await queue.working_on("host:2", ["math"]) == raw
        everything = await queue.all_working_on()
        assert everything["host:1"] == "started"
        assert everything["host:3"] == "started"
        busy = everything["host:2"]
        assert isinstance(busy, dict)
        assert busy["queue"] == "math"
        assert busy["payload"]["class"] == "add"
        assert busy["payload"]["args"] == [7]

    async def test_force_clean_worker_fails_its_job_and_removes_every_trace(
        self, queue: Queue, backend: Backend
    ) -> None:
        await self._working(backend, "host:2", "math", 7, START)
        await backend.increment_stats({"processed:host:2": 3})
        failures = await queue.force_clean_worker("host:2")
        assert len(failures) == 1
        failure = failures[0]
        assert failure.worker == "host:2"
        assert failure.queue == "math"
        assert failure.exception == failure.error == "Worker Timeout (killed manually)"
        assert failure.backtrace is not None
        assert failure.backtrace[0].startswith("killed by ")
        assert failure.backtrace[1:] == ["queue#forceCleanWorker", "taskcore"]
        assert failure.failed_at == js_date(START)
        assert failure.job == Job("add", "math", [7])
        assert await queue.workers() == {}
        assert await queue.working_on("host:2", "math") is None
        assert await queue.failed_count() == 1
        assert (await queue.failed())[0].job == Job("add", "math", [7])
        stats = await queue.stats()
        assert stats.get("failed") == 1
        assert "processed:host:2" not in stats
        assert [p.name for p in await backend.worker_pings()] == []

    async def test_force_clean_of_an_idle_worker_records_no_failure(
        self, queue: Queue, backend: Backend
    ) -> None:
        await backend.register_worker(WorkerId("host:1", ("math",)), START)
        assert await queue.force_clean_worker("host:1") == []
        assert await queue.workers() == {}
        assert await queue.failed_count() == 0
        assert (await queue.stats()).get("failed", 0) == 0  # node-resque counted one here
        assert await queue.force_clean_worker("nobody") == []

    async def test_clean_old_workers_cleans_jobs_running_longer_than_age(
        self, queue: Queue, backend: Backend, clock: FakeClock
    ) -> None:
        await self._working(backend, "old:1", "math", 1, START - 100)
        await backend.ping_worker(WorkerId("old:1", ("math",)), START)  # alive but stuck
        await self._working(backend, "new:1", "math", 2, START - 10)
        await backend.ping_worker(WorkerId("new:1", ("math",)), START)
        cleaned = await queue.clean_old_workers(60)
        assert list(cleaned) == ["old:1"]
        assert [f.job.args for f in cleaned["old:1"]] == [[1]]
        assert await queue.workers() == {"new:1": "math"}
        assert await queue.failed_count() == 1
        assert await queue.clean_old_workers(60) == {}

    async def test_clean_old_workers_cleans_idle_dead_workers(
        self, queue: Queue, backend: Backend
    ) -> None:
        # node-resque never cleaned idle workers (issue #312); a stale ping marks them dead
        await backend.register_worker(WorkerId("dead:1", ("math",)), START - 600)
        await backend.register_worker(WorkerId("live:1", ("math",)), START - 600)
        await backend.ping_worker(WorkerId("live:1", ("math",)), START - 5)
        cleaned = await queue.clean_old_workers(60)
        assert cleaned == {"dead:1": []}
        assert await queue.workers() == {"live:1": "math"}
        assert await queue.failed_count() == 0


class QueueFailuresContract(QueueFixtures):
    """The failed list: count, range, remove, retry, retry stuck jobs."""

    async def test_failed_count_range_and_remove(self, queue: Queue, backend: Backend) -> None:
        for n in range(3):
            await backend.push_failure(job_failure(n))
        assert await queue.failed_count() == 3
        middle = await queue.failed(1, 2)
        assert [f.job.args for f in middle] == [[1], [2]]
        assert middle[0].exception == "ValueError"
        assert middle[0].error == "bad 1"
        assert await queue.remove_failed(middle[0]) == 1
        assert await queue.remove_failed(middle[0]) == 0
        assert await queue.remove_failed(job_failure(0)) == 1  # the raw record works too
        assert [f.job.args for f in await queue.failed()] == [[2]]

    async def test_retry_and_remove_failed_reenqueues_the_job(
        self, queue: Queue, backend: Backend
    ) -> None:
        await backend.push_failure(job_failure(1))
        await backend.push_failure(job_failure(2))
        first = (await queue.failed())[0]
        assert await queue.retry_and_remove_failed(first) is True
        assert await queue.queued("math") == [Job("add", "math", [1])]
        assert [f.job.args for f in await queue.failed()] == [[2]]
        with pytest.raises(JobNotFound):
            await queue.retry_and_remove_failed(first)
        assert await queue.length("math") == 1

    async def test_retry_of_a_cjson_mangled_no_arg_job_keeps_empty_args(
        self, queue: Queue, backend: Backend
    ) -> None:
        # node-resque's Lua path stores "args":{} for no-arg jobs; retrying gave [{}] there
        record = stuck_failure(0).replace('"args":[0]', '"args":{}')
        await backend.push_failure(record)
        assert await queue.retry_and_remove_failed(record) is True
        assert await queue.queued("math") == [Job("add", "math", [])]

    async def test_retry_blocked_by_before_enqueue_keeps_the_failure(
        self, backend: Backend
    ) -> None:
        queue = Queue(backend, gated_jobs(allow=False), clock=FakeClock(START))
        record = job_failure(1, func="gated")
        await backend.push_failure(record)
        assert await queue.retry_and_remove_failed(decode_failure(record)) is False
        assert await queue.failed_count() == 1
        assert await queue.length("math") == 0

    async def test_retry_stuck_jobs_retries_only_force_cleaned_jobs_across_pages(
        self, queue: Queue, backend: Backend
    ) -> None:
        # more than two pages of 100, interleaved, so a window that moves by the page size
        # while records are removed (node-resque's paging) would skip some
        for n in range(230):
            await backend.push_failure(stuck_failure(n) if n % 3 else job_failure(n))
        stuck = [n for n in range(230) if n % 3]
        assert await queue.retry_stuck_jobs() == len(stuck)
        assert [j.args[0] for j in await queue.queued("math")] == stuck
        left = await queue.failed()
        assert [f.job.args[0] for f in left] == [n for n in range(230) if not n % 3]
        assert await queue.retry_stuck_jobs() == 0

    async def test_retry_stuck_jobs_upper_bounds_the_records_examined(
        self, queue: Queue, backend: Backend
    ) -> None:
        for n in range(6):
            await backend.push_failure(stuck_failure(n))
        assert await queue.retry_stuck_jobs(upper=4) == 4
        assert [f.job.args[0] for f in await queue.failed()] == [4, 5]

    async def test_failure_outcomes_from_workers_show_up(
        self, queue: Queue, backend: Backend
    ) -> None:
        w = WorkerId("host:1", ("math",))
        await backend.register_worker(w, START)
        await backend.push("math", encode_job("add", "math", [1]))
        await backend.reserve(["math"], w, START)
        await backend.complete(w, Outcome.failure(job_failure(1)))
        assert [f.job for f in await queue.failed()] == [Job("add", "math", [1])]
        assert (await queue.stats())["failed"] == 1


class QueueMalformedContract(QueueFixtures):
    """Inspection never raises for a record it cannot decode: it shows it, marked, with its
    text; a dead worker holding such a record is cleaned with its bytes kept."""

    BAD_PAYLOADS: ClassVar[list[str]] = [
        "not json",
        "[" * 10_000 + "]" * 10_000,
        '"a string"',
        '{"queue":"math","args":[1]}',
        '{"class":"add","queue":5,"args":[]}',
    ]
    BAD_FAILURES: ClassVar[list[str]] = [
        "not json",
        "{" * 10_000,
        '{"worker":"host:1","queue":"math","exception":"E"}',
    ]
    POISONS: ClassVar[list[Any]] = [
        pytest.param("not json {", id="not-json"),
        pytest.param("[" * 10_000 + "]" * 10_000, id="deep"),
        pytest.param(
            b'{"class":"add","args":["\xff\xfe"]}'.decode("utf-8", "surrogateescape"),
            id="not-utf8",
            marks=pytest.mark.requires_capability("binary_payloads"),
        ),
    ]

    async def test_queued_and_delayed_show_a_payload_that_is_not_a_job(
        self, queue: Queue, backend: Backend
    ) -> None:
        good = encode_job("add", "math", [1])
        for payload in [*self.BAD_PAYLOADS, good]:
            await backend.push("math", payload)
            assert await backend.schedule(10, "math", payload)
        jobs = await queue.queued("math")
        assert jobs[-1] == Job("add", "math", [1])
        bad = jobs[:-1]
        assert all(isinstance(j, MalformedJob) for j in bad)
        assert [j.raw for j in bad if isinstance(j, MalformedJob)] == self.BAD_PAYLOADS
        assert all(j.queue == "math" and j.class_name == "" for j in bad)
        assert all(isinstance(j, MalformedJob) and j.reason for j in bad)
        delayed, seconds = await queue.delayed_at(10_000)
        assert seconds == 10
        assert [j.raw if isinstance(j, MalformedJob) else j for j in delayed] == [
            *self.BAD_PAYLOADS,
            Job("add", "math", [1]),
        ]
        assert await queue.all_delayed() == {10_000: delayed}
        assert await queue.timestamps() == [10_000]
        assert await queue.del_by_function("math", "add") == 1  # bad ones never match
        assert await queue.length("math") == len(self.BAD_PAYLOADS)
        assert (await queue.details())["queues"] == {"math": {"length": 5}}

    async def test_failed_shows_a_record_that_is_not_a_failure_and_removes_it(
        self, queue: Queue, backend: Backend
    ) -> None:
        for record in [*self.BAD_FAILURES, stuck_failure(1)]:
            await backend.push_failure(record)
        failures = await queue.failed()
        assert [type(f) for f in failures] == [MalformedFailure] * 3 + [Failure]
        assert [f.raw for f in failures[:3]] == self.BAD_FAILURES
        assert failures[0].payload == {"malformed_payload": "not json"}
        bad = failures[2]
        assert isinstance(bad, MalformedFailure) and "payload" in bad.reason
        with pytest.raises(MalformedPayload, match="remove_failed"):
            await queue.retry_and_remove_failed(bad)
        assert await queue.failed(2, 2) == [bad]
        assert await queue.retry_stuck_jobs() == 1  # the readable one, past the others
        assert await queue.queued("math") == [Job("add", "math", [1])]
        for f in failures[:3]:
            assert await queue.remove_failed(f) == 1
        assert await queue.failed_count() == 0

    async def test_retry_stuck_jobs_goes_on_past_a_record_whose_retry_fails(
        self, backend: Backend
    ) -> None:
        class Overridden(Queue):  # a resque_overrides Queue with a bug for one job
            async def retry_and_remove_failed(self, failure: Failure | str) -> bool:
                if isinstance(failure, Failure) and failure.payload.get("args") == [1]:
                    raise RuntimeError("bug in an override")
                return await super().retry_and_remove_failed(failure)

        queue = Overridden(backend, clock=FakeClock(START))
        for n in range(3):
            await backend.push_failure(stuck_failure(n))
        await backend.push_failure(stuck_failure(3).replace('"args":[3]', '"args":[NaN]'))
        assert await queue.retry_stuck_jobs() == 2
        assert [j.args for j in await queue.queued("math")] == [[0], [2]]
        assert await queue.failed_count() == 2

    @pytest.mark.parametrize("poison", POISONS)
    async def test_a_worker_holding_an_undecodable_job_is_shown_and_cleaned_losslessly(
        self, queue: Queue, backend: Backend, poison: str
    ) -> None:
        worker = WorkerId("host:2", ("math",))
        await backend.register_worker(worker, START)
        await backend.push("math", poison)
        assert await backend.reserve(["math"], worker, START) is not None
        raw = await queue.working_on("host:2", "math")
        assert raw is not None and poison in raw
        busy = (await queue.all_working_on())["host:2"]
        assert isinstance(busy, dict)
        assert (busy["queue"], busy["worker"]) == ("math", "host:2")
        # the record shows as far as it parses; a payload that does not, as its text
        assert busy["payload"] in ({"malformed_payload": poison}, parsed(poison))
        assert (await queue.details())["workers"] == {"host:2": busy}

        (failure,) = await queue.force_clean_worker("host:2")
        (record,) = await backend.failures(0, -1)
        assert failure.raw == record
        assert decode_failure(record) == failure  # the stored record is valid JSON
        assert failure.payload == {"malformed_payload": poison}
        start = record.index('"payload":') + len('"payload":')
        assert unembed_payload(record[start : record.index(',"exception"')]) == poison
        assert failure.exception == "Worker Timeout (killed manually)"
        assert await queue.workers() == {}
        assert (await queue.stats())["failed"] == 1


class QueueClockContract(QueueFixtures):
    """Without a clock, the Queue and the Scheduler read time on the storage server's clock."""

    @pytest.fixture
    def server_ahead(self, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> float:
        """The storage server's clock runs an hour ahead of this machine's."""
        ahead = 3600.0

        async def server_time() -> float:
            return time.time() + ahead

        monkeypatch.setattr(backend, "server_time", server_time)
        return ahead

    async def test_enqueue_in_counts_from_the_storage_clock(
        self, backend: Backend, server_ahead: float
    ) -> None:
        queue = Queue(backend)
        assert isinstance(queue.clock, StorageClock)
        await queue.enqueue_in(5_000, "math", "add", [1])
        (at,) = await queue.scheduled_at("math", "add", [1])
        assert abs(at - (time.time() + server_ahead + 5)) <= 2

    async def test_promotion_is_judged_on_the_storage_clock(
        self, backend: Backend, server_ahead: float
    ) -> None:
        queue = Queue(backend)
        local = time.time()
        await queue.enqueue_at((local + server_ahead - 10) * 1000, "math", "add", [1])  # due
        await queue.enqueue_at((local + server_ahead + 60) * 1000, "math", "add", [2])
        scheduler = Scheduler(backend, name="scheduler-a", queue=queue)
        assert scheduler.clock is queue.clock
        assert await scheduler.poll()
        assert await queue.queued("math") == [Job("add", "math", [1])]
        assert len(await queue.timestamps()) == 1


class TestQueue(QueueContract):
    pass


class TestQueueWorkers(QueueWorkersContract):
    pass


class TestQueueFailures(QueueFailuresContract):
    pass


class TestQueueMalformed(QueueMalformedContract):
    pass


class TestQueueClock(QueueClockContract):
    pass


async def test_taskcore_info_shows_undecodable_records(
    backend: Backend, storage_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    poison = "[" * 10_000 + "]" * 10_000
    worker = WorkerId("host:2", ("math",))
    await backend.register_worker(worker, time.time())
    await backend.push("math", poison)
    assert await backend.reserve(["math"], worker, time.time()) is not None
    await backend.push("math", "not json")
    await backend.push_failure("not json")
    store = ["--url", storage_url, "--namespace", backend.namespace]
    capsys.readouterr()
    assert await asyncio.to_thread(main, [*store, "info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert poison in json.dumps(data["workers"]["host:2"])
    assert data["queues"]["math"]["length"] == 1
    assert data["failed"] == 1
    assert await asyncio.to_thread(main, [*store, "info"]) == 0
    assert "host:2" in capsys.readouterr().out


async def test_taskcore_failed_lists_and_removes_an_undecodable_record(
    backend: Backend, storage_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    poison = "{" * 5_000 + "not a failure"
    await backend.push_failure(poison)
    store = ["--url", storage_url, "--namespace", backend.namespace]
    capsys.readouterr()
    assert await asyncio.to_thread(main, [*store, "failed", "list", "--json"]) == 0
    [shown] = json.loads(capsys.readouterr().out)
    assert shown["malformed_record"] == poison
    assert await asyncio.to_thread(main, [*store, "failed", "list"]) == 0
    assert "unreadable failure record" in capsys.readouterr().out
    assert await asyncio.to_thread(main, [*store, "failed", "retry", "--all"]) == 0
    assert "cannot be retried" in capsys.readouterr().out
    assert await backend.failure_count() == 1
    assert await asyncio.to_thread(main, [*store, "failed", "remove", "0"]) == 0
    assert await backend.failure_count() == 0
