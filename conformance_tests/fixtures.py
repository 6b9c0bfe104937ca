"""The suite's fixtures, importable by a third-party driver's ``conftest.py``.

``conformance_tests/conftest.py`` star-imports this module with the built-in ``driver``
parametrization; a third-party driver star-imports it too and defines its own ``driver`` fixture
returning a :class:`~conformance_tests.drivers.DriverSpec`. Everything else follows from
``driver``:

* ``namespace``: unique per test;
* ``backend_factory``: ``await backend_factory()`` opens one more backend on the *same*
  storage and namespace (``backend_factory(namespace=...)`` for another namespace on the same
  storage). All are closed at teardown, after each namespace used is flushed;
* ``backend``: the first of those;
* ``storage_url``: the URL they all connect to (e.g. for a worker in another process);
* ``capabilities``: the driver's :class:`~taskcore.backend.Capabilities`;
* the ``requires_capability(name)`` marker: a test so marked is skipped when the driver's flag
  ``name`` is False. Never by driver name.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Protocol

import pytest
import pytest_asyncio

from conformance_tests.drivers import DriverSpec, connect_driver
from taskcore.backend import Backend, Capabilities

__all__ = [
    "BackendFactory",
    "backend",
    "backend_factory",
    "capabilities",
    "namespace",
    "pytest_configure",
    "requires_capability_gate",
    "storage_url",
]


class BackendFactory(Protocol):
    """Opens another backend on the test's storage; ``namespace`` defaults to the test's."""

    def __call__(self, namespace: str | None = None) -> Awaitable[Backend]: ...


def pytest_configure(config: pytest.Config) -> None:
    """Register the suite's marker, so ``--strict-markers`` accepts it in any project."""
    config.addinivalue_line(
        "markers",
        "requires_capability(name): run only on drivers whose Capabilities has this flag set",
    )


@pytest.fixture
def namespace(driver: DriverSpec) -> str:
    """A namespace no other test uses, so tests on a shared server never see each other
    (in the form the driver accepts: :attr:`DriverSpec.namespace_for`)."""
    return driver.namespace_for(f"taskcore-test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def capabilities(driver: DriverSpec) -> Capabilities:
    """The driver's capability flags, read from an unopened backend's class."""
    return type(connect_driver(driver, "taskcore-probe")).capabilities


@pytest.fixture(autouse=True)
def requires_capability_gate(request: pytest.FixtureRequest) -> None:
    """Skip a ``requires_capability(name)`` test when the driver's flag is False."""
    marker = request.node.get_closest_marker("requires_capability")
    if marker is None:
        return
    (name,) = marker.args
    caps: Capabilities = request.getfixturevalue("capabilities")
    if not hasattr(caps, name):
        raise pytest.UsageError(f"requires_capability({name!r}): Capabilities has no such flag")
    if not getattr(caps, name):
        pytest.skip(f"driver does not declare Capabilities.{name}")


@pytest.fixture
def storage_url(driver: DriverSpec) -> str:
    """The URL every backend of this test connects to (one storage per test)."""
    return driver.url()


@pytest_asyncio.fixture
async def backend_factory(
    driver: DriverSpec, namespace: str, storage_url: str
) -> AsyncIterator[BackendFactory]:
    """Open backends sharing one storage; close them all and flush their namespaces after."""
    url = storage_url
    opened: list[Backend] = []

    async def make(namespace: str | None = None) -> Backend:
        ns = namespace or default_namespace
        backend = connect_driver(driver, ns, url)
        await backend.open()
        opened.append(backend)
        return backend

    default_namespace = namespace
    try:
        yield make
    finally:
        flushed: set[str] = set()
        for backend in opened:
            if backend.namespace in flushed:
                continue
            # A test may have closed it; open() is idempotent and re-opens a closed backend.
            await backend.open()
            await backend.flush()
            flushed.add(backend.namespace)
        for backend in opened:
            await backend.aclose()


@pytest_asyncio.fixture
async def backend(backend_factory: BackendFactory) -> Backend:
    """An opened backend in the test's namespace."""
    return await backend_factory()
