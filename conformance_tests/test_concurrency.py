"""Concurrency: separate connections racing on one storage never duplicate or lose a job."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from conformance_tests.fixtures import BackendFactory
from conformance_tests.helpers import NOW, job, worker
from taskcore.backend import Backend, Outcome, WorkerId

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

    # -------------------------------------------------- many workers, one backend
    # A pool's workers share one backend and call it at once; a driver may run such calls
    # together (the PostgreSQL driver: one statement for all). Each call keeps its contract.

    async def test_shared_backend_reserves_go_in_priority_then_fifo_order(
        self, backend: Backend
    ) -> None:
        high = [job(n, "high") for n in range(5)]
        low = [job(n, "low") for n in range(10)]
        await backend.push_many([("high", p) for p in high] + [("low", p) for p in low])
        workers = [worker(f"host:{n}", "high", "low") for n in range(8)]
        for w in workers:
            await backend.register_worker(w, NOW)

        got = await asyncio.gather(*(backend.reserve(["high", "low"], w, NOW) for w in workers))

        assert all(r is not None for r in got)
        assert sorted(r.payload for r in got if r is not None) == sorted(high + low[:3])
        for w, r in zip(workers, got, strict=True):
            assert r is not None
            assert r.queue == ("high" if r.payload in high else "low")
            current = await backend.current_job(w)
            assert current is not None and current.payload == r.payload
        assert await backend.queue_range("low", 0, -1) == low[3:]

    async def test_shared_backend_cycles_record_every_outcome_and_reserve_each_job_once(
        self, backend: Backend
    ) -> None:
        jobs = [job(n) for n in range(15)]
        await backend.push_many([("math", p) for p in jobs])
        workers = [worker(f"host:{n}") for n in range(8)]
        for w in workers:
            await backend.register_worker(w, NOW)
        first = await asyncio.gather(*(backend.reserve(["math"], w, NOW) for w in workers))
        outcomes = [
            Outcome.success() if n % 2 else Outcome.failure(f'{{"failure":{n}}}') for n in range(8)
        ]

        second = await asyncio.gather(
            *(
                backend.complete_and_reserve(w, o, ["math"], NOW)
                for w, o in zip(workers, outcomes, strict=True)
            )
        )

        taken = [r.payload for r in first + second if r is not None]
        assert sorted(taken) == sorted(jobs)  # 8 + 7: each job exactly once
        assert [r for r in second if r is None] == [None]
        stats = await backend.stats()
        assert (stats["processed"], stats["failed"]) == (4, 4)
        for n, w in enumerate(workers):
            kind = "processed" if n % 2 else "failed"
            assert stats[f"{kind}:{w.name}"] == 1
        assert sorted(await backend.failures(0, -1)) == sorted(
            f'{{"failure":{n}}}' for n in range(0, 8, 2)
        )
        for w, r in zip(workers, second, strict=True):
            current = await backend.current_job(w)
            if r is None:
                assert current is None  # its finished job is cleared
            else:
                assert current is not None and current.payload == r.payload

    async def test_shared_backend_reserves_register_missing_workers_hit_or_miss(
        self, backend: Backend
    ) -> None:
        await backend.push_many([("math", job(1)), ("math", job(2))])
        workers = [worker(f"host:{n}") for n in range(4)]  # never registered

        got = await asyncio.gather(*(backend.reserve(["math"], w, NOW) for w in workers))

        assert sum(r is not None for r in got) == 2
        assert set(await backend.list_workers()) >= set(workers)
        pinged = {p.name for p in await backend.worker_pings()}
        assert pinged >= {w.name for w in workers}

    async def test_shared_backend_reserve_that_finds_nothing_keeps_the_held_job(
        self, backend: Backend
    ) -> None:
        holder, *others = [worker(f"host:{n}") for n in range(4)]
        for w in (holder, *others):
            await backend.register_worker(w, NOW)
        await backend.push("math", job(1))
        await backend.reserve(["math"], holder, NOW)

        got = await asyncio.gather(*(backend.reserve(["math"], w, NOW) for w in (holder, *others)))

        assert got == [None] * 4
        current = await backend.current_job(holder)
        assert current is not None and current.payload == job(1)

    async def test_pools_on_two_connections_drain_each_job_once_and_count_it_once(
        self, backend: Backend, backend_factory: BackendFactory
    ) -> None:
        jobs = [job(n) for n in range(240)]
        await backend.push_many([("math", p) for p in jobs])
        connections = [await backend_factory() for _ in range(2)]

        async def cycle(conn: Backend, w: WorkerId) -> list[str]:
            got: list[str] = []
            outcome: Outcome | None = None
            while True:
                if outcome is None:
                    r = await conn.reserve(["math"], w, NOW)
                else:
                    r = await conn.complete_and_reserve(w, outcome, ["math"], NOW)
                if r is None:
                    return got
                got.append(r.payload)
                n = len(got)
                outcome = Outcome.failure(f'["{w.name}", {n}]') if n % 3 == 0 else Outcome.success()

        workers = [
            (c, worker(f"host:{i}:{n}")) for i, c in enumerate(connections) for n in range(6)
        ]
        results = await asyncio.gather(*(cycle(c, w) for c, w in workers))

        assert Counter(p for got in results for p in got) == Counter(jobs)
        stats = await backend.stats()
        failed = sum(len(got) // 3 for got in results)
        assert (stats["processed"], stats["failed"]) == (240 - failed, failed)
        assert await backend.failure_count() == failed


class TestConcurrency(ConcurrencyContract):
    pass
