"""Stats counters and the failed list."""

from __future__ import annotations

import pytest

from conformance_tests.fixtures import BackendFactory
from conformance_tests.helpers import job
from taskcore.backend import Backend
from taskcore.codec import encode_failure

__all__ = ["StatsFailuresContract"]


def record(n: int, error: str = "kaboom") -> str:
    """A failure record for job ``n``, as a worker writes it."""
    return encode_failure(
        worker="host:1",
        queue="math",
        payload=job(n),
        exception="Error",
        error=error,
        backtrace=["    at perform (jobs.py:1)"],
        failed_at="Mon Nov 23 2026 06:18:16 GMT+0000 (Coordinated Universal Time)",
    )


class StatsFailuresContract:
    """increment_stats, stats, push_failure, failure_count, failures, remove_failure,
    retry_failure, clear_failures."""

    pytestmark = pytest.mark.asyncio  # also under strict mode, for third-party projects

    async def test_stats_start_empty(self, backend: Backend) -> None:
        assert await backend.stats() == {}

    async def test_increment_stats_adds_each_delta(self, backend: Backend) -> None:
        await backend.increment_stats({"processed": 1, "processed:host:1": 1})
        await backend.increment_stats({"processed": 2, "failed": 1})
        assert await backend.stats() == {"processed": 3, "processed:host:1": 1, "failed": 1}

    async def test_failures_are_appended_and_ranged_oldest_first(self, backend: Backend) -> None:
        records = [record(n) for n in range(4)]
        for r in records:
            await backend.push_failure(r)
        assert await backend.failure_count() == 4
        assert await backend.failures(0, -1) == records
        assert await backend.failures(1, 2) == records[1:3]
        assert await backend.failures(-1, -1) == records[3:]
        assert await backend.failures(5, 10) == []

    async def test_empty_failed_list(self, backend: Backend) -> None:
        assert await backend.failure_count() == 0
        assert await backend.failures(0, -1) == []
        assert await backend.remove_failure(record(1)) == 0

    async def test_failure_records_are_byte_exact(self, backend: Backend) -> None:
        odd = record(1, error='é ✓ 日本 a/b "q"')
        await backend.push_failure(odd)
        assert await backend.failures(0, -1) == [odd]
        assert await backend.remove_failure(odd.replace("é", "\\u00e9")) == 0
        assert await backend.remove_failure(odd) == 1

    async def test_remove_failure_removes_only_the_first_match(self, backend: Backend) -> None:
        for r in (record(1), record(2), record(1)):
            await backend.push_failure(r)
        assert await backend.remove_failure(record(1)) == 1
        assert await backend.failures(0, -1) == [record(2), record(1)]

    async def test_clear_failures_removes_every_record_of_this_namespace_only(
        self, backend: Backend, backend_factory: BackendFactory
    ) -> None:
        other = await backend_factory(namespace=backend.namespace + "-other")
        await other.push_failure(record(9))
        for n in range(250):  # more than one page of the default's walk
            await backend.push_failure(record(n % 3))
        await backend.increment_stats({"failed": 250})

        assert await backend.clear_failures() == 250
        assert await backend.failure_count() == 0
        assert await backend.failures(0, -1) == []
        assert (await backend.stats())["failed"] == 250  # the counter keeps its value
        assert await other.failures(0, -1) == [record(9)]
        assert await backend.clear_failures() == 0

    async def test_retry_failure_moves_the_job_back_atomically(self, backend: Backend) -> None:
        await backend.push("math", job(0))
        for r in (record(1), record(2), record(1)):
            await backend.push_failure(r)
        assert await backend.retry_failure(record(1), "math", job(1)) is True
        assert await backend.failures(0, -1) == [record(2), record(1)]
        assert await backend.queue_range("math", 0, -1) == [job(0), job(1)]
        assert await backend.list_queues() == ["math"]

    async def test_retry_absent_failure_writes_nothing(self, backend: Backend) -> None:
        await backend.push_failure(record(2))
        assert await backend.retry_failure(record(1), "math", job(1)) is False
        assert await backend.failures(0, -1) == [record(2)]
        assert await backend.queue_length("math") == 0
        assert await backend.list_queues() == []


class TestStatsFailures(StatsFailuresContract):
    pass
