"""Real servers for the suite: Redis, PostgreSQL and node-resque, found or started.

Provisional version: environment variables, else the conventional local ports. (To be extended:
start servers from their binaries on free ports when none runs.)
"""

from __future__ import annotations

import functools
import os


@functools.cache
def redis_url() -> str:
    """A Redis server URL for this test run (``TASKCORE_TEST_REDIS_URL`` or local 6379)."""
    return os.environ.get("TASKCORE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@functools.cache
def postgres_dsn() -> str:
    """A PostgreSQL DSN for this test run (``TASKCORE_TEST_POSTGRES_DSN`` or local 5432)."""
    return os.environ.get(
        "TASKCORE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
