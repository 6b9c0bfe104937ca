"""Delayed jobs: schedule, promote_due, and the delayed-set views."""

from __future__ import annotations

import asyncio

import pytest

from conformance_tests.fixtures import BackendFactory
from conformance_tests.helpers import NOW, job
from taskcore.backend import Backend, DelayedJob

__all__ = ["DelayedContract"]

T = int(NOW)


class DelayedContract:
    """schedule, promote_due, delayed_timestamps, delayed_at, scheduled_at, remove_delayed."""

    pytestmark = pytest.mark.asyncio  # also under strict mode, for third-party projects

    async def test_schedule_refuses_the_same_payload_twice_in_one_second(
        self, backend: Backend
    ) -> None:
        assert await backend.schedule(T, "math", job(1)) is True
        assert await backend.schedule(T, "math", job(1)) is False
        assert await backend.delayed_at(T) == [job(1)]

    async def test_schedule_accepts_other_payloads_and_other_seconds(
        self, backend: Backend
    ) -> None:
        assert await backend.schedule(T, "math", job(1)) is True
        assert await backend.schedule(T, "math", job(2)) is True
        assert await backend.schedule(T + 1, "math", job(1)) is True
        assert await backend.delayed_at(T) == [job(1), job(2)]
        assert await backend.scheduled_at(job(1)) == [T, T + 1]

    async def test_delayed_at_keeps_scheduling_order(self, backend: Backend) -> None:
        for n in (3, 1, 2):
            await backend.schedule(T, "math", job(n))
        assert await backend.delayed_at(T) == [job(3), job(1), job(2)]
        assert await backend.delayed_at(T + 1) == []

    async def test_delayed_timestamps_are_in_numeric_order(self, backend: Backend) -> None:
        # Lexicographic order would give [10, 100000, 1795414852, 9] (node-resque's bug).
        for ts in (100000, 9, 1795414852, 10):
            await backend.schedule(ts, "math", job(ts))
        assert await backend.delayed_timestamps() == [9, 10, 100000, 1795414852]

    async def test_promote_due_never_moves_a_job_early(self, backend: Backend) -> None:
        # Second T holds jobs asked for anywhere in [T - 0.5, T + 0.5) (Math.round): only at
        # T + 0.5 has the latest of them come, so T + 0.49 is not due and T + 0.5 is.
        await backend.schedule(T, "math", job(1))
        for early in (T - 0.5, T, T + 0.25, T + 0.49, T + 0.4999):
            assert await backend.promote_due(early) == [], early
        assert await backend.queue_length("math") == 0
        assert await backend.promote_due(T + 0.5) == [DelayedJob(T, "math", job(1))]
        assert await backend.queue_range("math", 0, -1) == [job(1)]

    async def test_promote_due_keeps_the_per_second_duplicate_rule(self, backend: Backend) -> None:
        # Stored seconds are still Math.round of the asked time: two asks that round to the
        # same second are one job; it becomes due half a second after that second.
        assert await backend.schedule(T, "math", job(1)) is True
        assert await backend.schedule(T, "math", job(1)) is False
        assert await backend.promote_due(T + 0.49) == []
        assert await backend.promote_due(T + 0.5) == [DelayedJob(T, "math", job(1))]
        assert await backend.queue_length("math") == 1

    async def test_promote_due_leaves_future_jobs(self, backend: Backend) -> None:
        await backend.schedule(T, "math", job(1))
        await backend.schedule(T + 1, "math", job(2))
        assert await backend.promote_due(T + 1.49) == [DelayedJob(T, "math", job(1))]
        assert await backend.delayed_timestamps() == [T + 1]
        assert await backend.delayed_at(T + 1) == [job(2)]

    async def test_promote_due_empties_every_view_of_a_moved_job(self, backend: Backend) -> None:
        await backend.schedule(T, "math", job(1))
        await backend.promote_due(T + 1)
        assert await backend.delayed_timestamps() == []
        assert await backend.delayed_at(T) == []
        assert await backend.scheduled_at(job(1)) == []
        assert await backend.promote_due(T + 100) == []

    async def test_promote_due_moves_oldest_first_fifo_within_a_second(
        self, backend: Backend
    ) -> None:
        await backend.schedule(T + 2, "math", job("c"))
        await backend.schedule(T, "math", job("a1"))
        await backend.schedule(T + 1, "other", job("b", "other"))
        await backend.schedule(T, "math", job("a2"))
        moved = await backend.promote_due(T + 10)
        assert moved == [
            DelayedJob(T, "math", job("a1")),
            DelayedJob(T, "math", job("a2")),
            DelayedJob(T + 1, "other", job("b", "other")),
            DelayedJob(T + 2, "math", job("c")),
        ]
        assert await backend.queue_range("math", 0, -1) == [job("a1"), job("a2"), job("c")]
        assert await backend.queue_range("other", 0, -1) == [job("b", "other")]

    async def test_promote_due_appends_to_the_tail_and_makes_the_queue_known(
        self, backend: Backend
    ) -> None:
        await backend.push("math", job("waiting"))
        await backend.schedule(T, "math", job("late"))
        await backend.schedule(T, "fresh", job("new", "fresh"))
        await backend.promote_due(T + 1)
        assert await backend.queue_range("math", 0, -1) == [job("waiting"), job("late")]
        assert await backend.list_queues() == ["fresh", "math"]

    async def test_promote_due_moves_at_most_limit_jobs(self, backend: Backend) -> None:
        for n in range(5):
            await backend.schedule(T + n // 2, "math", job(n))
        first = await backend.promote_due(T + 10, limit=2)
        second = await backend.promote_due(T + 10, limit=2)
        third = await backend.promote_due(T + 10, limit=2)
        assert [d.payload for d in first] == [job(0), job(1)]
        assert [d.payload for d in second] == [job(2), job(3)]
        assert [d.payload for d in third] == [job(4)]
        assert await backend.queue_range("math", 0, -1) == [job(n) for n in range(5)]
        assert await backend.delayed_timestamps() == []

    async def test_scheduled_at_is_ascending_and_byte_exact(self, backend: Backend) -> None:
        await backend.schedule(T + 5, "math", job(1))
        await backend.schedule(T, "math", job(1))
        assert await backend.scheduled_at(job(1)) == [T, T + 5]
        assert await backend.scheduled_at('{"class": "add", "queue": "math", "args": [1]}') == []
        assert await backend.scheduled_at(job(2)) == []

    async def test_remove_delayed_returns_timestamps_and_empty_ones_vanish(
        self, backend: Backend
    ) -> None:
        await backend.schedule(T + 3, "math", job(1))
        await backend.schedule(T, "math", job(1))
        await backend.schedule(T, "math", job(2))
        assert await backend.remove_delayed(job(1)) == [T, T + 3]
        assert await backend.delayed_timestamps() == [T]
        assert await backend.delayed_at(T) == [job(2)]
        assert await backend.delayed_at(T + 3) == []
        assert await backend.scheduled_at(job(1)) == []
        assert await backend.remove_delayed(job(1)) == []
        assert await backend.promote_due(T + 10) == [DelayedJob(T, "math", job(2))]

    async def test_remove_delayed_at_returns_that_seconds_jobs_and_the_second_vanishes(
        self, backend: Backend
    ) -> None:
        await backend.schedule(T, "math", job(1))
        await backend.schedule(T, "other", job(2, "other"))
        await backend.schedule(T, "math", job(3))
        await backend.schedule(T + 1, "math", job(1))  # same payload, another second: kept
        assert await backend.remove_delayed_at(T) == [job(1), job(2, "other"), job(3)]
        assert await backend.delayed_timestamps() == [T + 1]
        assert await backend.delayed_at(T) == []
        assert await backend.scheduled_at(job(1)) == [T + 1]
        assert await backend.scheduled_at(job(2, "other")) == []
        assert await backend.remove_delayed_at(T) == []
        assert await backend.promote_due(T + 10) == [DelayedJob(T + 1, "math", job(1))]
        assert await backend.queue_length("other") == 0

    async def test_remove_delayed_at_frees_the_second_for_the_same_payload(
        self, backend: Backend
    ) -> None:
        # The per-second duplicate rule must not remember a removed job.
        await backend.schedule(T, "math", job(1))
        assert await backend.remove_delayed_at(T) == [job(1)]
        assert await backend.schedule(T, "math", job(1)) is True
        assert await backend.delayed_at(T) == [job(1)]

    async def test_remove_delayed_at_and_promote_due_never_share_a_job(
        self, backend_factory: BackendFactory
    ) -> None:
        # Each job is promoted or removed, exactly one of the two, under concurrency.
        first, second = await backend_factory(), await backend_factory()
        payloads = [job(n) for n in range(40)]
        for payload in payloads:
            await first.schedule(T, "math", payload)
        removed, promoted = await asyncio.gather(
            first.remove_delayed_at(T), second.promote_due(T + 1)
        )
        queued = await first.queue_range("math", 0, -1)
        assert sorted(removed + queued) == sorted(payloads)
        assert [d.payload for d in promoted] == queued
        assert await first.delayed_timestamps() == []

    async def test_delayed_payloads_are_byte_exact(self, backend: Backend) -> None:
        payload = '{"class":"greet","queue":"math","args":["日本/é","\\u00e9"]}'
        await backend.schedule(T, "math", payload)
        assert await backend.delayed_at(T) == [payload]
        assert await backend.scheduled_at(payload) == [T]
        assert await backend.promote_due(T + 1) == [DelayedJob(T, "math", payload)]
        assert await backend.queue_range("math", 0, -1) == [payload]


class TestDelayed(DelayedContract):
    pass
