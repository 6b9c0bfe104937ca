"""PostgreSQL multi-host connection strings: the first host that accepts a read-write session
is used, as after a primary switch (libpq's ``target_session_attrs``, implemented by asyncpg).

The suite's PostgreSQL is listed after a port where nothing listens, so the driver must skip
the dead host for its pool and for its LISTEN connection alike; in the URL form, as asyncpg
keywords, and as libpq's keyword/value string (``host=a,b port=1,2 ...``).
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import asyncpg
import pytest

from conformance_tests import servers
from conformance_tests.drivers import free_port
from conformance_tests.engine_support import WAIT
from conformance_tests.helpers import NOW, job, worker
from taskcore import connect
from taskcore.backend import Backend

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio]


async def _round_trip(backend: Backend) -> None:
    """A push wakes a watcher (LISTEN connection) and is reserved (pool connection)."""
    wakeup = await backend.wake_up(["math"])
    wakeup.arm()
    await backend.push("math", job(1))
    assert await wakeup.wait(WAIT), "the NOTIFY did not reach the LISTEN connection"
    await wakeup.aclose()
    reserved = await backend.reserve(["math"], worker(), NOW)
    assert reserved is not None and reserved.payload == job(1)
    await backend.flush()


async def test_a_multi_host_url_skips_a_dead_first_host() -> None:
    live = urlsplit(servers.postgres_dsn())
    hosts = f"127.0.0.1:{free_port()},{live.hostname}:{live.port}"
    url = f"postgresql://{live.username}@{hosts}{live.path}?target_session_attrs=read-write"
    async with connect(url, namespace=f"multihost-{uuid.uuid4().hex[:8]}") as backend:
        await _round_trip(backend)


async def test_host_lists_given_as_keywords_work_like_the_url_form() -> None:
    # libpq's keyword form (host=a,b port=1,2 target_session_attrs=read-write) as asyncpg
    # keywords; the URL then names only the user and database.
    live = urlsplit(servers.postgres_dsn())
    assert live.hostname is not None and live.port is not None
    backend = connect(
        f"postgresql://{live.username}@{live.path}",
        namespace=f"multihost-{uuid.uuid4().hex[:8]}",
        host=["127.0.0.1", live.hostname],
        port=[free_port(), live.port],
        target_session_attrs="read-write",
    )
    async with backend:
        await _round_trip(backend)


async def test_a_libpq_keyword_dsn_skips_a_dead_first_host() -> None:
    live = urlsplit(servers.postgres_dsn())
    dsn = (
        f"host=127.0.0.1,{live.hostname} port={free_port()},{live.port} user={live.username} "
        f"dbname={live.path.lstrip('/')} target_session_attrs=read-write connect_timeout=5"
    )
    async with connect(dsn, namespace=f"multihost-{uuid.uuid4().hex[:8]}") as backend:
        await _round_trip(backend)


async def test_quoted_keyword_values_reach_the_server_unescaped() -> None:
    # application_name is sent as a startup setting: the server reports what libpq's quoting
    # rules made of it (a space, an escaped quote and an escaped backslash).
    live = urlsplit(servers.postgres_dsn())
    name = f"taskcore {uuid.uuid4().hex[:8]} it's a \\ test"
    quoted = "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"
    dsn = (
        f"host={live.hostname} port={live.port} user = {live.username} "
        f"dbname='{live.path.lstrip('/')}' application_name={quoted}"
    )
    async with connect(dsn, namespace=f"multihost-{uuid.uuid4().hex[:8]}") as backend:
        await backend.ping()
        admin = await asyncpg.connect(servers.postgres_dsn(), timeout=10)
        try:
            names = await admin.fetch("SELECT application_name FROM pg_stat_activity")
        finally:
            await admin.close()
        assert name in {row["application_name"] for row in names}
        await backend.flush()
