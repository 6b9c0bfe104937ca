"""Runs every contract test on every driver of :data:`conformance_tests.drivers.DRIVERS`.

The fixtures themselves live in :mod:`conformance_tests.fixtures` so a third-party driver can
import them; this file only adds the parametrization over the built-in drivers.
"""

from __future__ import annotations

import pytest

# pytest_params is imported through its module: a conftest name starting with "pytest_" is
# taken for a hook.
from conformance_tests import drivers
from conformance_tests.drivers import DriverSpec
from conformance_tests.fixtures import *  # noqa: F403 -- fixtures are registered by name


@pytest.fixture(params=drivers.pytest_params())
def driver(request: pytest.FixtureRequest) -> DriverSpec:
    """Each built-in driver in turn (marked ``memory``/``redis``/``postgres`` for ``-m``)."""
    spec: DriverSpec = request.param
    return spec
