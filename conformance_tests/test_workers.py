"""Workers: registration, heartbeats, current jobs, stale lookup and clean-up."""

from __future__ import annotations

import pytest

from conformance_tests.helpers import NOW, failure_for, job, worker
from taskcore.backend import Backend, CurrentJob, Outcome, WorkerId, WorkerPing
from taskcore.errors import MalformedPayload

__all__ = ["WorkerContract"]

T = int(NOW)


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

    async def test_current_job_of_a_non_json_payload_is_exact_or_malformed(
        self, backend: Backend
    ) -> None:
        # Payloads are opaque: a driver may return it untouched; one that must decode the
        # record has to say so with MalformedPayload, never a raw JSON/KeyError.
        w = worker()
        await backend.push("math", "not json {")
        assert (await backend.reserve(["math"], w, NOW)) is not None
        try:
            current = await backend.current_job(w)
        except MalformedPayload as exc:
            assert "not json {" in str(exc)
        else:
            assert current is not None and current.payload == "not json {"


class TestWorkers(WorkerContract):
    pass
