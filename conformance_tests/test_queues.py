"""Queues: push/reserve/complete, inspection and removal, and wake-ups on push."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from conformance_tests.fixtures import BackendFactory
from conformance_tests.helpers import NOW, failure_for, holding_a_job, job, worker
from taskcore.backend import Backend, Outcome, Reservation, WakeUp
from taskcore.codec import encode_job, parse_date

__all__ = ["QueueContract", "WakeUpContract"]

# Byte-exactness probes: non-ASCII left raw, "/" unescaped, an escaped sequence kept escaped,
# quotes and a nested empty list (which cjson would turn into {}).
ODD_PAYLOADS = [
    encode_job("greet", "math", ["héllo wörld ✓ 日本語 🎉"]),
    encode_job("path", "math", ["a/b/c", "http://x/y"]),
    '{"class":"esc","queue":"math","args":["\\u00e9","\\"quoted\\""]}',
    encode_job("empty", "math", [[], {}, 1.5, 12345678901234567]),
]


class QueueContract:
    """push, reserve, complete, complete_and_reserve, length, range, remove, list, delete."""

    pytestmark = pytest.mark.asyncio  # also under strict mode, for third-party projects

    async def test_push_appends_and_reads_back_fifo(self, backend: Backend) -> None:
        for n in range(3):
            await backend.push("math", job(n))
        assert await backend.queue_length("math") == 3
        assert await backend.queue_range("math", 0, -1) == [job(0), job(1), job(2)]

    async def test_push_front_puts_the_job_at_the_head(self, backend: Backend) -> None:
        await backend.push("math", job(1))
        await backend.push("math", job(0), front=True)
        assert await backend.queue_range("math", 0, -1) == [job(0), job(1)]
        got = await backend.reserve(["math"], worker(), NOW)
        assert got == Reservation("math", job(0))

    async def test_reserve_is_fifo_within_a_queue(self, backend: Backend) -> None:
        for n in range(3):
            await backend.push("math", job(n))
        w = worker()
        got = []
        for _ in range(3):
            r = await backend.reserve(["math"], w, NOW)
            assert r is not None
            got.append(r.payload)
            await backend.complete(w, Outcome.success())
        assert got == [job(0), job(1), job(2)]

    async def test_reserve_follows_the_queue_priority_order(self, backend: Backend) -> None:
        await backend.push("low", job(1, "low"))
        await backend.push("high", job(2, "high"))
        w = worker("host:1", "high", "low")
        first = await backend.reserve(["high", "low"], w, NOW)
        await backend.complete(w, Outcome.success())
        second = await backend.reserve(["high", "low"], w, NOW)
        await backend.complete(w, Outcome.success())
        assert first == Reservation("high", job(2, "high"))
        assert second == Reservation("low", job(1, "low"))
        assert await backend.reserve(["high", "low"], w, NOW) is None

    async def test_reserve_skips_empty_and_unknown_queues(self, backend: Backend) -> None:
        await backend.push("empty", job(0, "empty"))
        await backend.delete_queue("empty")
        await backend.push("third", job(3, "third"))
        got = await backend.reserve(["empty", "never-seen", "third"], worker(), NOW)
        assert got == Reservation("third", job(3, "third"))

    async def test_reserve_on_empty_queues_returns_none_and_records_no_job(
        self, backend: Backend
    ) -> None:
        await backend.push("math", job(1))
        await backend.delete_queue("math")
        w = worker()
        await backend.register_worker(w, NOW)
        assert await backend.reserve(["math", "other"], w, NOW + 5) is None
        assert await backend.current_job(w) is None
        assert await backend.list_queues() == []
        assert await backend.list_workers() == [w]
        assert await backend.worker_started(w) == int(NOW)
        assert await backend.stats() == {}

    async def test_reserve_records_the_current_job(self, backend: Backend) -> None:
        payload = job(7)
        await backend.push("math", payload)
        w = worker("host:42", "math", "other")
        assert await backend.reserve(["math", "other"], w, NOW) == Reservation("math", payload)
        current = await backend.current_job(w)
        assert current is not None
        assert current.worker == w
        assert current.queue == "math"
        assert current.payload == payload
        assert parse_date(current.run_at) == pytest.approx(NOW, abs=1.0)
        assert await backend.queue_length("math") == 0

    async def test_complete_success_counts_processed_and_clears_the_current_job(
        self, backend: Backend
    ) -> None:
        w = await holding_a_job(backend)
        await backend.complete(w, Outcome.success())
        assert await backend.current_job(w) is None
        assert await backend.stats() == {"processed": 1, f"processed:{w.name}": 1}
        assert await backend.failure_count() == 0

    async def test_complete_failure_counts_failed_and_appends_the_record(
        self, backend: Backend
    ) -> None:
        w = await holding_a_job(backend)
        current = await backend.current_job(w)
        assert current is not None
        record = failure_for(current)
        await backend.complete(w, Outcome.failure(record))
        assert await backend.current_job(w) is None
        assert await backend.stats() == {"failed": 1, f"failed:{w.name}": 1}
        assert await backend.failures(0, -1) == [record]

    async def test_complete_failure_without_record_counts_failed_but_lists_nothing(
        self, backend: Backend
    ) -> None:
        # The Retry plugin's outcome: the attempt failed, the job was rescheduled.
        w = await holding_a_job(backend)
        await backend.complete(w, Outcome.failure(None))
        assert await backend.current_job(w) is None
        assert await backend.stats() == {"failed": 1, f"failed:{w.name}": 1}
        assert await backend.failure_count() == 0

    async def test_complete_skipped_moves_no_counter(self, backend: Backend) -> None:
        w = await holding_a_job(backend)
        await backend.complete(w, Outcome.skipped())
        assert await backend.current_job(w) is None
        assert await backend.stats() == {}
        assert await backend.failure_count() == 0

    async def test_complete_and_reserve_records_then_takes_the_next_job(
        self, backend: Backend
    ) -> None:
        w = worker()
        await backend.push("math", job(1))
        await backend.push("math", job(2))
        await backend.reserve(["math"], w, NOW)
        got = await backend.complete_and_reserve(w, Outcome.success(), ["math"], NOW + 1)
        assert got == Reservation("math", job(2))
        current = await backend.current_job(w)
        assert current is not None and current.payload == job(2)
        assert await backend.stats() == {"processed": 1, f"processed:{w.name}": 1}

    async def test_complete_and_reserve_on_empty_queues_leaves_the_worker_idle(
        self, backend: Backend
    ) -> None:
        w = await holding_a_job(backend)
        current = await backend.current_job(w)
        assert current is not None
        record = failure_for(current)
        got = await backend.complete_and_reserve(w, Outcome.failure(record), ["math"], NOW)
        assert got is None
        assert await backend.current_job(w) is None
        assert await backend.failures(0, -1) == [record]
        assert await backend.stats() == {"failed": 1, f"failed:{w.name}": 1}

    async def test_queue_range_accepts_negative_and_out_of_range_indices(
        self, backend: Backend
    ) -> None:
        jobs = [job(n) for n in range(5)]
        for payload in jobs:
            await backend.push("math", payload)
        assert await backend.queue_range("math", 0, -1) == jobs
        assert await backend.queue_range("math", 1, 2) == jobs[1:3]
        assert await backend.queue_range("math", -2, -1) == jobs[3:]
        assert await backend.queue_range("math", -100, 0) == jobs[:1]
        assert await backend.queue_range("math", 3, 100) == jobs[3:]
        assert await backend.queue_range("math", 3, 1) == []
        assert await backend.queue_range("math", 10, 20) == []

    async def test_unknown_queue_is_empty(self, backend: Backend) -> None:
        assert await backend.queue_length("nope") == 0
        assert await backend.queue_range("nope", 0, -1) == []

    async def test_remove_from_queue_count_semantics(self, backend: Backend) -> None:
        a, b = job("a"), job("b")

        async def fill() -> None:
            await backend.delete_queue("math")
            for payload in (a, b, a, b, a):
                await backend.push("math", payload)

        await fill()
        assert await backend.remove_from_queue("math", a) == 3
        assert await backend.queue_range("math", 0, -1) == [b, b]

        await fill()
        assert await backend.remove_from_queue("math", a, 2) == 2
        assert await backend.queue_range("math", 0, -1) == [b, b, a]

        await fill()
        assert await backend.remove_from_queue("math", a, -1) == 1
        assert await backend.queue_range("math", 0, -1) == [a, b, a, b]

        assert await backend.remove_from_queue("math", job("zzz")) == 0
        assert await backend.remove_from_queue("nope", a) == 0

    async def test_remove_from_queue_matches_bytes_not_json_equality(
        self, backend: Backend
    ) -> None:
        await backend.push("math", '{"class":"add","queue":"math","args":[1]}')
        spaced = '{"class": "add", "queue": "math", "args": [1]}'
        assert await backend.remove_from_queue("math", spaced) == 0
        assert await backend.queue_length("math") == 1

    async def test_list_queues_is_sorted_and_keeps_emptied_queues(self, backend: Backend) -> None:
        assert await backend.list_queues() == []
        for name in ("b", "a", "c"):
            await backend.push(name, job(1, name))
        await backend.reserve(["a"], worker(), NOW)
        assert await backend.list_queues() == ["a", "b", "c"]

    async def test_delete_queue_drops_jobs_and_the_name(self, backend: Backend) -> None:
        await backend.push("math", job(1))
        await backend.push("math", job(2))
        await backend.push("other", job(3, "other"))
        assert await backend.delete_queue("math") == 2
        assert await backend.queue_length("math") == 0
        assert await backend.list_queues() == ["other"]
        assert await backend.delete_queue("never-seen") == 0

    @pytest.mark.parametrize("payload", ODD_PAYLOADS, ids=["unicode", "slash", "escapes", "nums"])
    async def test_payloads_are_stored_byte_for_byte(self, backend: Backend, payload: str) -> None:
        await backend.push("math", payload)
        assert await backend.queue_range("math", 0, -1) == [payload]
        w = worker()
        assert await backend.reserve(["math"], w, NOW) == Reservation("math", payload)
        current = await backend.current_job(w)
        assert current is not None and current.payload == payload

    async def test_queue_names_with_odd_characters(self, backend: Backend) -> None:
        name = "é/queue:with spaces"
        await backend.push(name, job(1, name))
        assert await backend.list_queues() == [name]
        assert await backend.reserve([name], worker("host:1", name), NOW) == Reservation(
            name, job(1, name)
        )

    async def test_queues_with_jobs_lists_the_known_queues_holding_jobs_in_list_order(
        self, backend: Backend
    ) -> None:
        await backend.push_many([("b", job(1)), ("a", job(2)), ("Z", job(3)), ("Z", job(4))])
        await backend.push("emptied", job(5))
        await backend.reserve(["emptied"], worker("host:1", "emptied"), NOW)

        assert await backend.list_queues() == ["Z", "a", "b", "emptied"]
        assert await backend.queues_with_jobs() == ["Z", "a", "b"]
        assert await backend.queues_with_jobs(all_up_to=3) == ["Z", "a", "b"]
        assert await backend.queues_with_jobs(all_up_to=4) == ["Z", "a", "b", "emptied"]
        await backend.delete_queue("a")
        await backend.reserve(["Z"], worker("host:2", "Z"), NOW)
        assert await backend.queues_with_jobs() == ["Z", "b"]
        await backend.flush()
        assert await backend.queues_with_jobs() == []


class TestQueues(QueueContract):
    pass


@contextlib.asynccontextmanager
async def armed(backend: Backend, queues: list[str]) -> AsyncIterator[WakeUp]:
    """A wake-up for ``queues``, armed, closed on exit."""
    wake = await backend.wake_up(queues)
    try:
        wake.arm()
        yield wake
    finally:
        await wake.aclose()


class WakeUpContract:
    """Backend.wake_up: a push to a watched queue wakes an armed waiter promptly."""

    pytestmark = pytest.mark.asyncio  # also under strict mode, for third-party projects

    @pytest.mark.requires_capability("enqueue_notifications")
    async def test_push_from_another_connection_wakes_the_waiter(
        self, backend: Backend, backend_factory: BackendFactory
    ) -> None:
        producer = await backend_factory()
        async with armed(backend, ["math"]) as wake:
            await producer.push("math", job(1))
            assert await wake.wait(5) is True

    @pytest.mark.requires_capability("enqueue_notifications")
    async def test_promote_due_wakes_the_waiter(
        self, backend: Backend, backend_factory: BackendFactory
    ) -> None:
        scheduler = await backend_factory()
        await scheduler.schedule(int(NOW), "math", job(1))
        async with armed(backend, ["math"]) as wake:
            assert len(await scheduler.promote_due(NOW + 1)) == 1
            assert await wake.wait(5) is True

    @pytest.mark.requires_capability("enqueue_notifications")
    async def test_push_to_an_unwatched_queue_does_not_wake(
        self, backend: Backend, backend_factory: BackendFactory
    ) -> None:
        producer = await backend_factory()
        async with armed(backend, ["math"]) as wake:
            await producer.push("other", job(1, "other"))
            assert await wake.wait(0.2) is False

    @pytest.mark.requires_capability("enqueue_notifications")
    async def test_watching_every_queue_wakes_on_any_push(
        self, backend: Backend, backend_factory: BackendFactory
    ) -> None:
        producer = await backend_factory()
        async with armed(backend, []) as wake:
            await producer.push("anything", job(1, "anything"))
            assert await wake.wait(5) is True


class TestWakeUp(WakeUpContract):
    pass
