"""Lifecycle: open/aclose are idempotent, ``async with`` works, errors map to taskcore's."""

from __future__ import annotations

import time

import pytest

from conformance_tests.drivers import DriverSpec, connect_driver
from conformance_tests.fixtures import BackendFactory
from conformance_tests.helpers import job
from taskcore.backend import Backend
from taskcore.errors import BackendUnavailable
from taskcore.registry import connect

__all__ = ["LifecycleContract"]


class LifecycleContract:
    """Backend.open / aclose / ping / ``async with``."""

    pytestmark = pytest.mark.asyncio  # also under strict mode, for third-party projects

    async def test_ping_on_an_open_backend_returns_none(self, backend: Backend) -> None:
        assert await backend.ping() is None

    async def test_server_time_is_the_storage_clock_in_unix_seconds(self, backend: Backend) -> None:
        # Loopback server: its clock is this machine's. Seconds (not ms), a float, and it
        # never goes backwards between calls.
        readings = []
        for _ in range(20):
            readings.append(await backend.server_time())
        assert all(type(r) is float for r in readings)
        assert readings == sorted(readings)
        assert abs(readings[-1] - time.time()) < 5
        assert readings[-1] > readings[0]

    async def test_open_twice_keeps_one_working_backend(self, backend: Backend) -> None:
        await backend.open()
        await backend.push("math", job(1))
        await backend.open()
        assert await backend.queue_length("math") == 1

    async def test_aclose_is_idempotent_and_the_backend_reopens(
        self, backend_factory: BackendFactory
    ) -> None:
        backend = await backend_factory()
        await backend.aclose()
        await backend.aclose()
        await backend.open()
        await backend.ping()
        await backend.push("math", job(1))
        assert await backend.queue_range("math", 0, -1) == [job(1)]

    async def test_async_with_opens_and_closes(self, driver: DriverSpec, namespace: str) -> None:
        async with connect_driver(driver, namespace) as backend:
            await backend.ping()
            await backend.push("math", job(1))
            assert await backend.queue_length("math") == 1
            await backend.flush()

    async def test_unreachable_server_raises_backend_unavailable(
        self, driver: DriverSpec, namespace: str
    ) -> None:
        if driver.unreachable_url is None:
            pytest.skip("an in-process driver has no server to be unreachable")
        backend = connect(driver.unreachable_url(), namespace=namespace)
        try:
            # A driver may connect in open() (then open raises) or lazily (then the first
            # call does); either way the error is BackendUnavailable with the native cause.
            try:
                await backend.open()
            except BackendUnavailable as exc:
                error = exc
            else:
                with pytest.raises(BackendUnavailable) as ping_error:
                    await backend.ping()
                error = ping_error.value
                with pytest.raises(BackendUnavailable):
                    await backend.push("math", job(1))
            assert error.__cause__ is not None, "the native error is kept as __cause__"
        finally:
            await backend.aclose()

    async def test_server_going_away_raises_backend_unavailable(
        self, driver: DriverSpec, namespace: str
    ) -> None:
        if driver.unreachable_url is None or driver.behind_proxies is None:
            pytest.skip("an in-process driver has no server to go away")
        async with driver.behind_proxies(driver.url()) as storage:
            backend = storage.connect(namespace)
            try:
                await backend.open()
                await backend.push("math", job(1))
                storage.cut()
                with pytest.raises(BackendUnavailable):
                    await backend.ping()
                with pytest.raises(BackendUnavailable):
                    await backend.push("math", job(2))
            finally:
                await backend.aclose()
        # Through the real address the data written before the outage is there; clean it up.
        async with connect_driver(driver, namespace, driver.url()) as direct:
            assert await direct.queue_range("math", 0, -1) == [job(1)]
            await direct.flush()


class TestLifecycle(LifecycleContract):
    pass
