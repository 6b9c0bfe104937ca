"""The Backend conformance suite: contract classes per method group, reusable by any driver.

A third-party driver reuses the whole suite with::

    # conftest.py
    from conformance_tests.fixtures import *   # namespace, backend_factory, backend, ...

    @pytest.fixture
    def driver() -> DriverSpec:
        return DriverSpec("mydriver", lambda: "mydriver://localhost/0")

    # test_conformance.py
    from conformance_tests import *            # every *Contract class

    class TestQueues(QueueContract): pass
    ...

Contract classes are not named ``Test*`` so pytest collects them only through a ``Test*``
subclass. See ``docs/conformance.md``. Attributes load lazily, so importing
``conformance_tests.drivers`` (as ``benchmarks/`` does) does not import the test modules.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ConcurrencyContract",
    "DelayedContract",
    "IsolationContract",
    "LifecycleContract",
    "LockContract",
    "QueueContract",
    "StatsFailuresContract",
    "WakeUpContract",
    "WorkerContract",
]

_HOMES = {
    "ConcurrencyContract": "test_concurrency",
    "DelayedContract": "test_delayed",
    "IsolationContract": "test_isolation",
    "LifecycleContract": "test_lifecycle",
    "LockContract": "test_locks",
    "QueueContract": "test_queues",
    "StatsFailuresContract": "test_stats_failures",
    "WakeUpContract": "test_queues",
    "WorkerContract": "test_workers",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'conformance_tests' has no attribute {name!r}")
    module = importlib.import_module(f"conformance_tests.{_HOMES[name]}")
    return getattr(module, name)
