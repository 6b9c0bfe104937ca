"""Concurrency: separate connections racing on one storage never duplicate or lose a job."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from conformance_tests.fixtures import BackendFactory
from conformance_tests.helpers import NOW, job, worker
from taskcore.backend import Backend, Outcome

__all__ = ["ConcurrencyContract"]

T = int(NOW)


class ConcurrencyContract:
    """reserve, promote_due, schedule, acquire_lock and increment_lock under contention."""

    pytestmark = pytest.mark.asyncio  # also under strict mode, for third-party projects

    async def test_concurrent_reservers_take_each_job_exactly_once(
        self, backend: Backend, backend_factory: BackendFactory
    ) -> None:
        jobs = [job(n) for n in range(200)]
        for payload in jobs:
            await backend.push("math", payload)
        connections = [await backend_factory() for _ in range(8)]

        async def drain(conn: Backend, n: int) -> list[str]:
            w = worker(f"host:{n}")
            got: list[str] = []
            while (r := await conn.reserve(["math"], w, NOW)) is not None:
                got.append(r.payload)
                await conn.complete(w, Outcome.success())
            return got

        results = await asyncio.gather(*(drain(c, n) for n, c in enumerate(connections)))
        taken = [p for got in results for p in got]
        assert Counter(taken) == Counter(jobs)
        assert await backend.queue_length("math") == 0
        assert (await backend.stats())["processed"] == 200

    async def test_concurrent_promoters_move_each_job_exactly_once(
        self, backend: Backend, backend_factory: BackendFactory
    ) -> None:
        jobs = [job(n) for n in range(100)]
        for n, payload in enumerate(jobs):
            await backend.schedule(T + n % 10, "math", payload)
        connections = [await backend_factory() for _ in range(4)]

        async def promote(conn: Backend) -> list[str]:
            moved: list[str] = []
            while batch := await conn.promote_due(NOW + 100, limit=7):
                moved.extend(d.payload for d in batch)
            return moved

        results = await asyncio.gather(*(promote(c) for c in connections))
        moved = [p for got in results for p in got]
        assert Counter(moved) == Counter(jobs)
        assert Counter(await backend.queue_range("math", 0, -1)) == Counter(jobs)
        assert await backend.delayed_timestamps() == []

    async def test_concurrent_schedule_of_one_payload_succeeds_once(
        self, backend_factory: BackendFactory
    ) -> None:
        connections = [await backend_factory() for _ in range(4)]
        results = await asyncio.gather(*(c.schedule(T, "math", job(1)) for c in connections))
        assert sorted(results) == [False, False, False, True]
        assert await connections[0].delayed_at(T) == [job(1)]

    async def test_concurrent_acquire_has_one_winner(self, backend_factory: BackendFactory) -> None:
        connections = [await backend_factory() for _ in range(8)]
        results = await asyncio.gather(
            *(c.acquire_lock("leader", f"owner-{n}", 60) for n, c in enumerate(connections))
        )
        assert results.count(True) == 1
        winner = results.index(True)
        assert await connections[0].get_lock("leader") == f"owner-{winner}"

    async def test_concurrent_increments_are_all_counted(
        self, backend_factory: BackendFactory
    ) -> None:
        connections = [await backend_factory() for _ in range(8)]
        results = await asyncio.gather(*(c.increment_lock("attempts", 60) for c in connections))
        assert sorted(results) == list(range(8))


class TestConcurrency(ConcurrencyContract):
    pass
