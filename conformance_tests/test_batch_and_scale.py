"""Batch enqueue, and the calls whose cost must not grow with the data, on every driver.

Batch enqueue is one atomic step: every job of a batch is written, in order, or none is. The
scale paths (a worker of thousands of queues, paged delayed reads, heartbeats read through the
registrations, a scheduler poll that never scans the failed list) are pinned by what they
return and by which storage calls they make; no test asserts a speed. Time is a FakeClock.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from conformance_tests.fixtures import BackendFactory
from conformance_tests.helpers import NOW, failure_for, job, worker
from conformance_tests.raw_records import raw_writer
from taskcore.backend import Backend, Outcome, Reservation, WorkerId
from taskcore.clock import FakeClock
from taskcore.codec import Job, encode_failure, encode_job
from taskcore.errors import InvalidArgument, TaskcoreError
from taskcore.jobs import Jobs
from taskcore.plugins.base import Plugin
from taskcore.queue import FORCE_CLEAN_MARKER, WORKER_TIMEOUT_ERROR, Queue
from taskcore.scheduler import Scheduler
from taskcore.tasks import TaskAPI, TaskRegistry

__all__ = ["BatchContract", "QueueBatchContract", "ScaleContract"]

MANY = 5000


async def noop(*args: Any) -> None:
    return None


class Gate(Plugin):
    """``before_enqueue`` returns the ``allow`` option; both hooks record what they saw."""

    defaults: ClassVar[dict[str, Any]] = {"allow": True, "seen": None}

    async def before_enqueue(self) -> bool:
        self.options["seen"].append(("before", self.func, self.args))
        return bool(self.options["allow"])

    async def after_enqueue(self) -> bool:
        self.options["seen"].append(("after", self.func, self.args))
        return True


def gated(seen: list[Any]) -> Jobs:
    jobs = Jobs()
    for name, allow in (("open", True), ("shut", False)):
        options = {"Gate": {"allow": allow, "seen": seen}}
        jobs.register(name, noop, plugins=[Gate], plugin_options=options)
    return jobs


class BatchContract:
    """Backend.push_many: order kept, all or nothing, queues known and watchers woken."""

    pytestmark = pytest.mark.asyncio

    async def test_push_many_appends_every_job_in_order_across_queues(
        self, backend: Backend
    ) -> None:
        await backend.push("math", job(0))
        await backend.push_many(
            [("math", job(1)), ("text", job(2, "text")), ("math", job(3)), ("math", job(4))]
        )
        assert await backend.queue_range("math", 0, -1) == [job(0), job(1), job(3), job(4)]
        assert await backend.queue_range("text", 0, -1) == [job(2, "text")]
        assert await backend.list_queues() == ["math", "text"]
        w = worker("host:1", "math")
        assert await backend.reserve(["math"], w, NOW) == Reservation("math", job(0))

    async def test_push_many_writes_nothing_when_storage_refuses_one_job(
        self, backend: Backend
    ) -> None:
        blocked = await raw_writer(backend).unwritable_queue()
        batch = [("math", job(1)), ("text", job(2, "text")), (blocked, job(3, blocked))]
        with pytest.raises(TaskcoreError):
            await backend.push_many([*batch, ("math", job(4))])
        assert await backend.queue_length("math") == 0
        assert await backend.queue_length("text") == 0
        assert "math" not in await backend.list_queues()
        assert "text" not in await backend.list_queues()

    async def test_push_many_refuses_text_the_storage_cannot_hold_writing_nothing(
        self, backend: Backend
    ) -> None:
        if backend.capabilities.binary_payloads:
            pytest.skip("this storage holds any bytes")
        with pytest.raises(InvalidArgument, match="NUL"):
            await backend.push_many([("math", job(1)), ("math", '{"class":"a\x00"}')])
        assert await backend.queue_length("math") == 0
        assert await backend.list_queues() == []

    async def test_push_many_of_nothing_writes_nothing(self, backend: Backend) -> None:
        await backend.push_many([])
        assert await backend.list_queues() == []

    @pytest.mark.requires_capability("enqueue_notifications")
    async def test_push_many_wakes_the_watchers_of_each_queue(
        self, backend: Backend, backend_factory: BackendFactory
    ) -> None:
        producer = await backend_factory()
        wake = await backend.wake_up(["text"])
        try:
            wake.arm()
            await producer.push_many([("math", job(1)), ("text", job(2, "text"))])
            assert await wake.wait(5) is True
        finally:
            await wake.aclose()


class QueueBatchContract:
    """Queue.enqueue_many and app.task.enqueue_many."""

    pytestmark = pytest.mark.asyncio

    async def test_enqueue_many_runs_the_enqueue_hooks_of_each_job(self, backend: Backend) -> None:
        seen: list[Any] = []
        queue = Queue(backend, gated(seen), clock=FakeClock(NOW))
        written = await queue.enqueue_many(
            [("math", "open", [1]), ("math", "shut", [2]), ("math", "add", 3), ("math", "open", 4)]
        )
        assert written == [True, False, True, True]
        assert await queue.queued("math") == [
            Job("open", "math", [1]),
            Job("add", "math", [3]),
            Job("open", "math", [4]),
        ]
        assert seen == [
            ("before", "open", [1]),
            ("before", "shut", [2]),
            ("before", "open", [4]),
            ("after", "open", [1]),
            ("after", "open", [4]),
        ]

    async def test_enqueue_many_with_one_invalid_job_writes_nothing_and_runs_no_hook(
        self, backend: Backend
    ) -> None:
        seen: list[Any] = []
        queue = Queue(backend, gated(seen), clock=FakeClock(NOW))
        with pytest.raises(InvalidArgument):
            await queue.enqueue_many([("math", "open", [1]), ("math", "add", [float("nan")])])
        assert seen == []
        assert await queue.queues() == []

    async def test_task_api_enqueue_many_validates_every_input_first(
        self, backend: Backend
    ) -> None:
        tasks = TaskRegistry()

        @tasks.task(queue="mail")
        async def send_email(to: str) -> None: ...

        api = TaskAPI(Queue(backend, tasks.jobs, clock=FakeClock(NOW)), tasks)
        with pytest.raises(TaskcoreError):
            await api.enqueue_many([("send_email", {"to": "a@b.c"}), ("send_email", {})])
        assert await backend.list_queues() == []
        written = await api.enqueue_many(
            [("send_email", {"to": "a@b.c"}), ("send_email", {"to": "d@e.f"}, "urgent")]
        )
        assert written == [True, True]
        assert await backend.queue_range("mail", 0, -1) == [
            encode_job("send_email", "mail", [{"to": "a@b.c"}])
        ]
        assert await backend.queue_range("urgent", 0, -1) == [
            encode_job("send_email", "urgent", [{"to": "d@e.f"}])
        ]


class ScaleContract:
    """Thousands of queues, paged delayed reads, pings through the registrations."""

    pytestmark = pytest.mark.asyncio

    async def test_a_worker_of_5000_queues_registers_reserves_and_is_cleaned(
        self, backend: Backend
    ) -> None:
        queues = [f"queue-{n:05d}" for n in range(MANY)]
        w = WorkerId("host:1", tuple(queues))
        await backend.register_worker(w, NOW)
        assert await backend.list_workers() == [w]
        assert await backend.reserve(queues, w, NOW) is None
        await backend.push(queues[-1], job(2, queues[-1]))
        await backend.push(queues[4000], job(1, queues[4000]))
        got = await backend.reserve(queues, w, NOW)
        assert got == Reservation(queues[4000], job(1, queues[4000]))
        current = await backend.current_job(w)
        assert current is not None and current.payload == job(1, queues[4000])
        got = await backend.complete_and_reserve(w, Outcome.success(), queues, NOW)
        assert got == Reservation(queues[-1], job(2, queues[-1]))
        cleaned = await backend.clean_worker("host:1", failure_for)
        assert [c.payload for c in cleaned] == [job(2, queues[-1])]
        assert await backend.list_workers() == []
        assert await backend.failure_count() == 1

    async def test_a_worker_of_hundreds_of_queues_keeps_priority_and_fifo_as_its_list_changes(
        self, backend: Backend
    ) -> None:
        queues = [f"q-{n:03d}" for n in range(300)]
        w = WorkerId("host:1", tuple(queues))
        await backend.register_worker(w, NOW)
        for n, q in ((1, queues[250]), (2, queues[20]), (3, queues[20]), (4, queues[3])):
            await backend.push(q, job(n, q))
        firsts = [await backend.reserve(queues, w, NOW) for _ in range(2)]
        assert firsts == [
            Reservation(queues[3], job(4, queues[3])),
            Reservation(queues[20], job(2, queues[20])),
        ]
        # the same worker over another list (a wildcard worker's list changes as queues come)
        backwards = queues[::-1]
        assert await backend.reserve(backwards, w, NOW) == Reservation(
            queues[250], job(1, queues[250])
        )
        assert await backend.reserve(queues, w, NOW) == Reservation(queues[20], job(3, queues[20]))
        assert await backend.reserve(queues, w, NOW) is None
        await backend.push(queues[299], job(5, queues[299]))
        got = await backend.complete_and_reserve(w, Outcome.success(), backwards, NOW)
        assert got == Reservation(queues[299], job(5, queues[299]))
        current = await backend.current_job(w)
        assert current is not None and current.queue == queues[299]

    @pytest.mark.requires_capability("resque_wire_format")
    async def test_a_reserve_over_thousands_of_queues_sends_the_list_once(
        self, backend: Backend, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        client: Any = raw_writer(backend).client  # type: ignore[attr-defined]
        sent: list[int] = []
        real = client.evalsha

        async def counted(sha: str, numkeys: int, *keys_and_args: Any) -> Any:
            sent.append(len(keys_and_args))
            return await real(sha, numkeys, *keys_and_args)

        monkeypatch.setattr(client, "evalsha", counted)
        queues = [f"queue-{n:05d}" for n in range(2000)]
        w = WorkerId("host:1", tuple(queues))
        for _ in range(3):
            assert await backend.reserve(queues, w, NOW) is None
        await backend.push(queues[1999], job(1, queues[1999]))
        sent.clear()
        assert await backend.reserve(queues, w, NOW) == Reservation(
            queues[1999], job(1, queues[1999])
        )
        got = await backend.complete_and_reserve(w, Outcome.success(), queues, NOW)
        assert got is None
        assert len(sent) == 2 and max(sent) < 30, sent

    @pytest.mark.requires_capability("resque_wire_format")
    async def test_a_many_queue_reserve_finds_other_clients_jobs_at_once_and_cleans_up(
        self, backend: Backend
    ) -> None:
        raw: Any = raw_writer(backend)
        queues = [f"q-{n:03d}" for n in range(300)]
        w = WorkerId("host:1", tuple(queues))
        await backend.register_worker(w, NOW)
        assert await backend.reserve(queues, w, NOW) is None  # the list is stored now
        # node-resque enqueues with RPUSH (and SADD queues): no taskcore bookkeeping
        await raw.client.rpush(raw.key(f"queue:{queues[250]}"), job(1, queues[250]))
        await raw.client.rpush(raw.key(f"queue:{queues[100]}"), job(2, queues[100]))
        assert await backend.reserve(queues, w, NOW) == Reservation(
            queues[100], job(2, queues[100])
        )
        # whatever storage holds in taskcore's own keys is not trusted
        stored = [k async for k in raw.client.scan_iter(match=raw.key("taskcore:reserve:*"))]
        assert len(stored) == 1
        await raw.client.delete(stored[0])
        await raw.client.rpush(stored[0], "a list", "of the wrong", "length")
        got = await backend.complete_and_reserve(w, Outcome.success(), queues, NOW)
        assert got == Reservation(queues[250], job(1, queues[250]))
        await backend.clean_worker("host:1", failure_for)
        assert [k async for k in raw.client.scan_iter(match=raw.key("taskcore:reserve:*"))] == []

    async def test_delayed_pages_walk_every_timestamp_once_in_order(self, backend: Backend) -> None:
        base = int(NOW)
        for n in (5, 1, 3, 2, 4):
            assert await backend.schedule(base + n, "math", job(n))
        assert await backend.schedule(base + 3, "math", job(33))
        assert await backend.delayed_timestamps_page(None, 2) == [base + 1, base + 2]
        assert await backend.delayed_timestamps_page(base + 2, 2) == [base + 3, base + 4]
        assert await backend.delayed_timestamps_page(base + 4, 2) == [base + 5]
        assert await backend.delayed_timestamps_page(base + 5, 2) == []
        assert await backend.delayed_page(base + 1, 2) == [
            (base + 2, [job(2)]),
            (base + 3, [job(3), job(33)]),
        ]
        # a second emptied after it was scheduled is not listed
        await backend.remove_delayed_at(base + 4)
        assert await backend.delayed_page(base + 3, 10) == [(base + 5, [job(5)])]

    async def test_queue_pages_and_all_delayed_read_past_one_batch(self, backend: Backend) -> None:
        queue = Queue(backend, clock=FakeClock(NOW))
        base = int(NOW)
        count = 1001  # one more than all_delayed reads per round trip
        for n in range(count):
            await backend.schedule(base + n, "math", job(n))
        everything = await queue.all_delayed()
        assert list(everything) == [(base + n) * 1000 for n in range(count)]
        assert everything[(base + 1000) * 1000] == [Job("add", "math", [1000])]
        first = await queue.timestamps_page(limit=2)
        assert first == [base * 1000, (base + 1) * 1000]
        assert await queue.timestamps_page(after=first[-1], limit=1) == [(base + 2) * 1000]
        assert await queue.delayed_page(after=(base + 999) * 1000, limit=5) == {
            (base + 1000) * 1000: [Job("add", "math", [1000])]
        }
        with pytest.raises(InvalidArgument, match="limit"):
            await queue.delayed_page(limit=0)

    async def test_failure_pages_read_each_remaining_record_once_while_others_remove(
        self, backend: Backend
    ) -> None:
        for n in range(10):
            await backend.push_failure(f"r{n}")
        page, cursor = await backend.failures_after(None, 3)
        assert page == ["r0", "r1", "r2"]
        for gone in ("r1", "r2"):  # before the cursor, and the page's last record
            assert await backend.remove_failure(gone) == 1
        await backend.push_failure("r10")
        page, cursor = await backend.failures_after(cursor, 3)
        assert page == ["r3", "r4", "r5"]
        for gone in ("r3", "r4", "r5"):  # the whole page
            assert await backend.remove_failure(gone) == 1
        page, cursor = await backend.failures_after(cursor, 3)
        assert page == ["r6", "r7", "r8"]
        assert await backend.remove_failure("r0") == 1
        page, cursor = await backend.failures_after(cursor, 3)
        assert page == ["r9", "r10"]  # short: the end
        assert await backend.failures_after(cursor, 3) == ([], cursor)
        await backend.push_failure("r11")
        page, _ = await backend.failures_after(cursor, 3)
        assert page == ["r11"]
        with pytest.raises(InvalidArgument, match="cursor"):
            await backend.failures_after("not a cursor", 3)

    async def test_retry_stuck_jobs_retries_each_stuck_job_while_others_remove_failures(
        self, backend: Backend, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        queue = Queue(backend, clock=FakeClock(NOW))
        stuck, other = [], []
        for n in range(150):  # 300 records: three pages and more
            stuck.append(stuck_failure(n))
            other.append(f"an unrelated failure {n}")
            await backend.push_failure(stuck[-1])
            await backend.push_failure(other[-1])
        real = backend.retry_failure
        removed_by_others = other[:5]

        async def retry_while_others_remove(record: str, q: str, payload: str) -> bool:
            while removed_by_others:  # another process, on the first retry
                assert await backend.remove_failure(removed_by_others.pop()) == 1
            return await real(record, q, payload)

        monkeypatch.setattr(backend, "retry_failure", retry_while_others_remove)
        assert await queue.retry_stuck_jobs() == 150
        assert sorted(j.args[0] for j in await queue.queued("math")) == list(range(150))
        assert await backend.failures(0, -1) == other[5:]

    async def test_timestamps_list_every_second_in_pages_or_one_page_with_a_limit(
        self, backend: Backend, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        queue = Queue(backend, clock=FakeClock(NOW))
        base = int(NOW)
        for n in range(1001):  # one more than a page
            await backend.schedule(base + 2 * n, "math", job(n))
        whole = count_calls(monkeypatch, backend, "delayed_timestamps")
        assert await queue.timestamps() == [(base + 2 * n) * 1000 for n in range(1001)]
        assert await queue.timestamps(after=(base + 1999) * 1000) == [(base + 2000) * 1000]
        assert await queue.timestamps(after=base * 1000, limit=2) == [
            (base + 2) * 1000,
            (base + 4) * 1000,
        ]
        assert whole == []  # never the one-call listing of every second

    async def test_registered_worker_pings_leave_out_unregistered_heartbeats(
        self, backend: Backend
    ) -> None:
        alive = worker("host:1", "math")
        await backend.register_worker(alive, NOW)
        await backend.register_worker(worker("host:1", "text"), NOW)  # same name, 2 members
        await backend.ping_worker(worker("gone:1", "math"), NOW - 10)  # never registered
        pings = await backend.registered_worker_pings()
        assert [(p.name, p.time) for p in pings] == [("host:1", int(NOW))]
        assert sorted(p.name for p in await backend.worker_pings()) == ["gone:1", "host:1"]


def stuck_failure(n: int) -> str:
    """The failure record :meth:`Queue.force_clean_worker` writes for job ``add(n)``."""
    return encode_failure(
        worker="dead:1",
        queue="math",
        payload=encode_job("add", "math", [n]),
        exception=WORKER_TIMEOUT_ERROR,
        error=WORKER_TIMEOUT_ERROR,
        backtrace=["killed by host at a date", FORCE_CLEAN_MARKER, "taskcore"],
        failed_at="Fri Jan 15 2027 08:00:00 GMT+0000 (Coordinated Universal Time)",
    )


class TestBatch(BatchContract):
    pass


class TestQueueBatch(QueueBatchContract):
    pass


class TestScale(ScaleContract):
    pass


# ---------------------------------------------------------------- the scheduler's poll


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


def scheduler_for(backend: Backend, clock: FakeClock, **options: Any) -> Scheduler:
    queue = Queue(backend, clock=clock)
    return Scheduler(backend, name="scheduler-a", clock=clock, queue=queue, **options)


async def dead_worker(backend: Backend, name: str, now: float, n: int) -> None:
    """``name`` registers, reserves job ``add(n)`` and dies."""
    w = WorkerId(name, ("math",))
    await backend.register_worker(w, now)
    await backend.push("math", encode_job("add", "math", [n]))
    assert await backend.reserve(["math"], w, now) is not None


def count_calls(monkeypatch: pytest.MonkeyPatch, backend: Backend, method: str) -> list[int]:
    calls: list[int] = []
    real = getattr(backend, method)

    async def counted(*args: Any) -> Any:
        calls.append(1)
        return await real(*args)

    monkeypatch.setattr(backend, method, counted)
    return calls


async def test_idle_polls_read_the_registered_workers_pings_not_every_heartbeat(
    backend: Backend, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await backend.register_worker(WorkerId("live:1", ("math",)), clock.now())
    swept = count_calls(monkeypatch, backend, "worker_pings")
    scheduler = scheduler_for(backend, clock, stuck_worker_timeout=60.0)
    assert await scheduler.poll()
    assert len(swept) == 1  # the first pass reads every heartbeat
    for _ in range(5):
        clock.advance(1)
        await backend.ping_worker(WorkerId("live:1", ("math",)), clock.now())
        assert await scheduler.poll()
    assert len(swept) == 1
    assert [w.name for w in await backend.list_workers()] == ["live:1"]


async def test_a_leftover_heartbeat_is_cleaned_by_the_periodic_sweep(
    backend: Backend, clock: FakeClock
) -> None:
    scheduler = scheduler_for(backend, clock, stuck_worker_timeout=60.0)
    assert await scheduler.poll()
    # a heartbeat without a registration (a worker killed between unregistering steps)
    await backend.ping_worker(WorkerId("leftover:1", ("math",)), clock.now())
    clock.advance(61)
    assert await scheduler.poll()  # swept: 61 s since the last sweep
    assert await backend.worker_pings() == []


async def test_the_poll_retries_the_jobs_its_pass_cleaned_without_reading_the_failed_list(
    backend: Backend, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await dead_worker(backend, "dead:1", clock.now(), 1)
    await dead_worker(backend, "dead:2", clock.now(), 2)
    for n in range(3):
        await backend.push_failure(f"an old failure {n}")
    scheduler = scheduler_for(backend, clock, stuck_worker_timeout=60.0, retry_stuck_jobs=True)
    reads = count_calls(monkeypatch, backend, "failures")
    clock.advance(120)
    assert await scheduler.poll()
    assert reads == []
    assert sorted(j.args[0] for j in await scheduler.queue.queued("math")) == [1, 2]
    assert await backend.failures(0, -1) == [f"an old failure {n}" for n in range(3)]
    assert await backend.list_workers() == []
