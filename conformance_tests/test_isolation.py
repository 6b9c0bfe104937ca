"""Isolation: namespaces on one storage never see or touch each other."""

from __future__ import annotations

import pytest

from conformance_tests.fixtures import BackendFactory
from conformance_tests.helpers import NOW, failure_for, job, worker
from taskcore.backend import Backend

__all__ = ["IsolationContract"]

T = int(NOW)


async def populate(backend: Backend) -> None:
    """Put something in every place a backend stores data."""
    w = worker("host:1")
    await backend.register_worker(w, NOW)
    await backend.push("math", job(1))
    await backend.push("math", job(2))
    await backend.reserve(["math"], w, NOW)
    await backend.schedule(T, "math", job(3))
    await backend.acquire_lock("lock:a", "v", 60)
    await backend.increment_stats({"processed": 1})
    current = await backend.current_job(w)
    assert current is not None
    await backend.push_failure(failure_for(current))


async def assert_empty(backend: Backend) -> None:
    assert await backend.list_queues() == []
    assert await backend.queue_length("math") == 0
    assert await backend.delayed_timestamps() == []
    assert await backend.list_locks("lock:") == {}
    assert await backend.list_workers() == []
    assert await backend.worker_pings() == []
    assert await backend.current_jobs() == {}
    assert await backend.stats() == {}
    assert await backend.failure_count() == 0


async def assert_populated(backend: Backend) -> None:
    assert await backend.list_queues() == ["math"]
    assert await backend.queue_range("math", 0, -1) == [job(2)]
    assert await backend.delayed_at(T) == [job(3)]
    assert await backend.get_lock("lock:a") == "v"
    assert await backend.list_workers() == [worker("host:1")]
    current = await backend.current_job(worker("host:1"))
    assert current is not None and current.payload == job(1)
    assert await backend.stats() == {"processed": 1}
    assert await backend.failure_count() == 1


class IsolationContract:
    """Every method is confined to its backend's namespace; flush included."""

    pytestmark = pytest.mark.asyncio  # also under strict mode, for third-party projects

    async def test_a_namespace_sees_nothing_of_another(
        self, backend: Backend, backend_factory: BackendFactory
    ) -> None:
        neighbour = await backend_factory(namespace=backend.namespace + "-neighbour")
        await populate(backend)
        await assert_empty(neighbour)
        assert await neighbour.reserve(["math"], worker("host:2"), NOW) is None
        assert await neighbour.promote_due(NOW + 10) == []
        assert await neighbour.clean_worker("host:1", failure_for) == []
        await assert_populated(backend)

    async def test_flush_empties_its_namespace_and_leaves_the_other_intact(
        self, backend: Backend, backend_factory: BackendFactory
    ) -> None:
        # The neighbour's name extends this one's: a prefix match must not reach it.
        neighbour = await backend_factory(namespace=backend.namespace + "-neighbour")
        await populate(backend)
        await populate(neighbour)
        await backend.flush()
        await assert_empty(backend)
        await assert_populated(neighbour)
        await neighbour.flush()
        await assert_empty(neighbour)


class TestIsolation(IsolationContract):
    pass
