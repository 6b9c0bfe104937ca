"""Workers: registration, heartbeats, current jobs, stale lookup and clean-up."""

from __future__ import annotations

import pytest

from conformance_tests.helpers import NOW, failure_for, job, worker
from conformance_tests.raw_records import raw_writer
from taskcore.backend import Backend, CurrentJob, Outcome, Reservation, WorkerId, WorkerPing

__all__ = ["WorkerContract"]

T = int(NOW)

HOSTILE_PAYLOADS = {
    "not_json": b"not json {",
    "json_array": b'["add","math",[1]]',
    "json_string": b'"add"',
    "json_number": b"12",
    "empty": b"",
    "deep_array": b"[" * 10_000 + b"]" * 10_000,
    "deep_object": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "truncated": job(1).encode()[:-3],
}
"""Current-job payloads a driver must keep and hand to recovery byte for byte."""


class WorkerContract:
    """register_worker, ping_worker, list_workers, worker_started, worker_pings,
    stale_workers, current_job, current_jobs, clean_worker."""

    pytestmark = pytest.mark.asyncio  # also under strict mode, for third-party projects

    async def test_register_lists_the_worker_with_started_time_and_ping(
        self, backend: Backend
    ) -> None:
        w = WorkerId("host:123", ("math", "other"))
        await backend.register_worker(w, NOW + 0.6)
        assert await backend.list_workers() == [w]
        assert await backend.worker_started(w) == T + 1
        assert await backend.worker_pings() == [WorkerPing("host:123", "math,other", T + 1)]

    async def test_list_workers_is_sorted_by_member(self, backend: Backend) -> None:
        ids = [worker("host:2"), WorkerId("host:1", ("*",)), worker("host:1", "a", "b")]
        for w in ids:
            await backend.register_worker(w, NOW)
        assert await backend.list_workers() == sorted(ids, key=lambda w: w.member)

    async def test_unknown_worker_reads_as_none(self, backend: Backend) -> None:
        assert await backend.worker_started(worker("ghost")) is None
        assert await backend.current_job(worker("ghost")) is None
        assert await backend.list_workers() == []
        assert await backend.worker_pings() == []

    async def test_ping_rounds_now_like_math_round(self, backend: Backend) -> None:
        w = worker()
        await backend.register_worker(w, NOW)
        await backend.ping_worker(w, NOW + 10.49)
        assert await backend.worker_pings() == [WorkerPing(w.name, "math", T + 10)]
        await backend.ping_worker(w, NOW + 10.5)
        assert await backend.worker_pings() == [WorkerPing(w.name, "math", T + 11)]
        assert await backend.worker_started(w) == T

    async def test_worker_pings_include_unregistered_and_sort_by_name(
        self, backend: Backend
    ) -> None:
        await backend.ping_worker(worker("b:1"), NOW)
        await backend.register_worker(worker("a:1"), NOW + 1)
        assert await backend.worker_pings() == [
            WorkerPing("a:1", "math", T + 1),
            WorkerPing("b:1", "math", T),
        ]

    async def test_stale_workers_compares_rounded_ages(self, backend: Backend) -> None:
        old, fresh = worker("old:1"), worker("fresh:1")
        await backend.register_worker(old, NOW)
        await backend.register_worker(fresh, NOW + 30)
        assert await backend.stale_workers(NOW + 60, 60) == []
        assert await backend.stale_workers(NOW + 60.5, 60) == [WorkerPing("old:1", "math", T)]
        assert await backend.stale_workers(NOW + 91, 60) == [
            WorkerPing("fresh:1", "math", T + 30),
            WorkerPing("old:1", "math", T),
        ]

    async def test_current_jobs_maps_every_worker(self, backend: Backend) -> None:
        busy, idle = worker("busy:1"), worker("idle:1")
        await backend.register_worker(busy, NOW)
        await backend.register_worker(idle, NOW)
        await backend.push("math", job(1))
        await backend.reserve(["math"], busy, NOW)
        jobs = await backend.current_jobs()
        assert set(jobs) == {busy, idle}
        assert jobs[idle] is None
        current = jobs[busy]
        assert isinstance(current, CurrentJob)
        assert (current.worker, current.queue, current.payload) == (busy, "math", job(1))
        assert await backend.current_job(busy) == current

    async def test_clean_worker_fails_its_current_job_and_removes_every_trace(
        self, backend: Backend
    ) -> None:
        w, other = worker("dead:1"), worker("alive:1")
        await backend.register_worker(w, NOW)
        await backend.register_worker(other, NOW)
        await backend.increment_stats({"processed": 3, f"processed:{w.name}": 3})
        await backend.push("math", job(1))
        await backend.reserve(["math"], w, NOW)
        current = await backend.current_job(w)
        assert current is not None

        seen: list[CurrentJob] = []

        def factory(job_: CurrentJob) -> str:
            seen.append(job_)
            return failure_for(job_)

        assert await backend.clean_worker(w.name, factory) == [current]
        assert seen == [current]
        assert await backend.failures(0, -1) == [failure_for(current)]
        assert await backend.stats() == {"processed": 3, "failed": 1}
        assert await backend.list_workers() == [other]
        assert await backend.worker_started(w) is None
        assert await backend.current_job(w) is None
        assert [p.name for p in await backend.worker_pings()] == [other.name]
        assert await backend.queue_length("math") == 0

    async def test_clean_worker_handles_every_queue_set_of_that_name(
        self, backend: Backend
    ) -> None:
        a, b = worker("dead:1", "a"), worker("dead:1", "b")
        for w in (a, b):
            await backend.register_worker(w, NOW)
            await backend.push(w.queues[0], job(1, w.queues[0]))
            await backend.reserve(list(w.queues), w, NOW)
        cleaned = await backend.clean_worker("dead:1", failure_for)
        assert sorted(c.queue for c in cleaned) == ["a", "b"]
        assert await backend.failure_count() == 2
        assert await backend.stats() == {"failed": 2}
        assert await backend.list_workers() == []
        assert await backend.current_jobs() == {}

    async def test_clean_idle_worker_records_no_failure(self, backend: Backend) -> None:
        w = worker("idle:1")
        await backend.register_worker(w, NOW)
        await backend.push("math", job(1))
        await backend.reserve(["math"], w, NOW)
        await backend.complete(w, Outcome.success())
        assert await backend.clean_worker(w.name, failure_for) == []
        assert await backend.failure_count() == 0
        assert await backend.stats() == {"processed": 1}
        assert await backend.list_workers() == []
        assert await backend.worker_pings() == []

    async def test_clean_unknown_worker_is_a_no_op(self, backend: Backend) -> None:
        await backend.register_worker(worker("alive:1"), NOW)
        assert await backend.clean_worker("ghost:1", failure_for) == []
        assert await backend.list_workers() == [worker("alive:1")]
        assert await backend.stats() == {}

    async def test_current_job_of_a_non_json_payload_is_returned_exact(
        self, backend: Backend
    ) -> None:
        # Payloads are opaque: reading the record back never raises and keeps the bytes.
        w = worker()
        await backend.push("math", "not json {")
        assert (await backend.reserve(["math"], w, NOW)) is not None
        current = await backend.current_job(w)
        assert current is not None and current.payload == "not json {"

    @pytest.mark.parametrize("payload", HOSTILE_PAYLOADS.values(), ids=HOSTILE_PAYLOADS.keys())
    async def test_clean_worker_fails_a_current_job_that_cannot_be_decoded(
        self, backend: Backend, payload: bytes
    ) -> None:
        await self._poisoned_worker_is_read_and_cleaned(backend, payload)

    @pytest.mark.requires_capability("binary_payloads")
    async def test_clean_worker_fails_a_current_job_that_is_not_utf8(
        self, backend: Backend
    ) -> None:
        await self._poisoned_worker_is_read_and_cleaned(
            backend, b'{"class":"add","queue":"math","args":["\xff\xfe\xc3"]}'
        )

    async def _poisoned_worker_is_read_and_cleaned(self, backend: Backend, payload: bytes) -> None:
        """A worker holding ``payload`` (planted raw) is listed with the payload's exact text
        next to a healthy busy worker, and cleaning it fails that text, touching no other."""
        text = payload.decode("utf-8", "surrogateescape")
        poisoned, healthy = worker("poisoned:1"), worker("healthy:1")
        await raw_writer(backend).current_job(poisoned, payload, NOW)
        await backend.register_worker(healthy, NOW)
        await backend.push("math", job(2))
        await backend.reserve(["math"], healthy, NOW)

        jobs = await backend.current_jobs()
        assert set(jobs) == {poisoned, healthy}
        listed, alone = jobs[poisoned], await backend.current_job(poisoned)
        assert listed is not None and alone is not None
        assert (listed.payload, alone.payload) == (text, text)
        assert text in listed.raw
        assert [p.name for p in await backend.worker_pings()] == [healthy.name, poisoned.name]

        seen: list[CurrentJob] = []

        def factory(current: CurrentJob) -> str:
            seen.append(current)
            return failure_for(current)

        cleaned = await backend.clean_worker(poisoned.name, factory)
        assert [c.payload for c in cleaned] == [text]
        assert seen == cleaned and seen[0].queue == "math"
        assert await backend.failures(0, -1) == [failure_for(seen[0])]
        assert await backend.stats() == {"failed": 1}
        assert await backend.list_workers() == [healthy]
        current = await backend.current_job(healthy)
        assert current is not None and current.payload == job(2)

    # ------------------------------------------------------------------ re-registration

    async def test_a_worker_cleaned_while_alive_is_registered_again_by_its_reserve(
        self, backend: Backend
    ) -> None:
        # The scheduler judged a live worker dead (its link stalled) and cleaned it; the worker
        # goes on, reserves a job, then really dies holding it: recovery must find that job.
        w = worker("stalled:1")
        await backend.register_worker(w, NOW)
        assert await backend.clean_worker(w.name, failure_for) == []
        assert await backend.list_workers() == []
        await backend.push("math", job(1))
        assert await backend.reserve(["math"], w, NOW + 60) == Reservation("math", job(1))
        assert await backend.list_workers() == [w]
        assert await backend.worker_pings() == [WorkerPing(w.name, "math", T + 60)]
        assert await backend.worker_started(w) == T + 60
        assert await backend.stale_workers(NOW + 200, 60) == [WorkerPing(w.name, "math", T + 60)]

        cleaned = await backend.clean_worker(w.name, failure_for)
        assert [(c.worker, c.queue, c.payload) for c in cleaned] == [(w, "math", job(1))]
        assert await backend.failures(0, -1) == [failure_for(cleaned[0])]
        assert await backend.stats() == {"failed": 1}
        assert await backend.list_workers() == []

    async def test_an_empty_reserve_registers_a_missing_worker_with_a_ping(
        self, backend: Backend
    ) -> None:
        w = worker("stalled:1")
        await backend.register_worker(w, NOW)
        await backend.clean_worker(w.name, failure_for)
        assert await backend.reserve(["math"], w, NOW + 30.6) is None
        assert await backend.list_workers() == [w]
        assert await backend.worker_pings() == [WorkerPing(w.name, "math", T + 31)]
        assert await backend.worker_started(w) == T + 31
        assert await backend.current_job(w) is None
        assert await backend.current_jobs() == {w: None}

    async def test_complete_and_reserve_registers_a_missing_worker_again(
        self, backend: Backend
    ) -> None:
        w = worker("stalled:1")
        await backend.register_worker(w, NOW)
        await backend.push("math", job(1))
        await backend.push("math", job(2))
        await backend.reserve(["math"], w, NOW)
        [orphan] = await backend.clean_worker(w.name, failure_for)
        assert orphan.payload == job(1)
        assert await backend.complete_and_reserve(
            w, Outcome.success(), ["math"], NOW + 45
        ) == Reservation("math", job(2))
        assert await backend.list_workers() == [w]
        assert await backend.worker_pings() == [WorkerPing(w.name, "math", T + 45)]
        [again] = await backend.clean_worker(w.name, failure_for)
        assert again.payload == job(2)
        assert await backend.failure_count() == 2

    async def test_reserve_of_a_registered_worker_keeps_its_started_time_and_ping(
        self, backend: Backend
    ) -> None:
        w = worker()
        await backend.register_worker(w, NOW)
        await backend.push("math", job(1))
        await backend.reserve(["math"], w, NOW + 100)
        await backend.complete_and_reserve(w, Outcome.success(), ["math"], NOW + 200)
        assert await backend.worker_started(w) == T
        assert await backend.worker_pings() == [WorkerPing(w.name, "math", T)]

    async def test_a_ping_dated_in_the_future_is_not_stale(self, backend: Backend) -> None:
        # A worker whose clock runs ahead wrote it: clock skew, never a reason to clean it.
        ahead = worker("ahead:1")
        await backend.register_worker(ahead, NOW + 600)
        assert await backend.stale_workers(NOW, 60) == []
        assert await backend.stale_workers(NOW + 661, 60) == [
            WorkerPing("ahead:1", "math", T + 600)
        ]


class TestWorkers(WorkerContract):
    pass
