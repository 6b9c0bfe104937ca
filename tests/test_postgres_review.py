"""PostgreSQL driver behaviour under races a single-process suite cannot provoke: a second
connection acting while one of the driver's multi-statement steps is half done."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import asyncpg
import pytest

from conformance_tests import servers
from conformance_tests.helpers import flushed
from taskcore.backend import CurrentJob, WorkerId
from taskcore.errors import ConfigError
from taskcore_postgres import PostgresBackend
from taskcore_postgres.schema import SCHEMA_VERSION

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def dsn() -> str:
    return servers.postgres_dsn()


@pytest.fixture
async def namespace() -> str:
    return f"review-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def backend(dsn: str, namespace: str) -> AsyncIterator[PostgresBackend]:
    async with flushed(PostgresBackend(dsn, namespace=namespace, max_size=2)) as b:
        yield b


def _run_elsewhere(
    dsn: str, namespace: str, step: Callable[[PostgresBackend], Coroutine[Any, Any, None]]
) -> None:
    """Run ``step`` on a second backend in another thread and wait for it: a concurrent
    process acting at an exact point, from inside a synchronous callback."""
    errors: list[BaseException] = []

    async def main() -> None:
        async with PostgresBackend(dsn, namespace=namespace, max_size=1) as other:
            await step(other)

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(30)
    if errors:
        raise errors[0]


async def test_clean_worker_keeps_a_job_reserved_by_a_same_named_worker_meanwhile(
    backend: PostgresBackend, dsn: str, namespace: str
) -> None:
    """clean_worker removes the workers it found; a worker of the same name that reserves a
    job while the cleaning runs keeps that job on record (no job is lost)."""
    dead = WorkerId("host:1", ("a",))
    newcomer = WorkerId("host:1", ("b",))
    await backend.push("a", "orphan")
    await backend.push("b", "fresh")
    assert await backend.reserve(["a"], dead, 1000.0) is not None

    async def reserve_fresh(other: PostgresBackend) -> None:
        assert await other.reserve(["b"], newcomer, 1001.0) is not None

    def failure_for(job: CurrentJob) -> str:
        _run_elsewhere(dsn, namespace, reserve_fresh)
        return f"failed:{job.payload}"

    cleaned = await backend.clean_worker("host:1", failure_for)

    assert [job.payload for job in cleaned] == ["orphan"]
    assert await backend.failures(0, -1) == ["failed:orphan"]
    current = await backend.current_job(newcomer)
    assert current is not None and current.payload == "fresh"


async def test_a_wake_up_survives_the_server_killing_the_listen_connection(
    backend: PostgresBackend, dsn: str
) -> None:
    """A dropped LISTEN connection wakes every waiter (pushes may have been missed), comes
    back by itself, and later pushes wake the waiter again."""
    wake = await backend.wake_up(["q"])
    try:
        wake.arm()
        conn = backend._hub._conn
        assert conn is not None
        admin = await asyncpg.connect(dsn)
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", conn.get_server_pid())
        finally:
            await admin.close()
        assert await wake.wait(5)  # the drop itself
        wake.arm()
        assert await wake.wait(5)  # listening again
        assert backend._hub.listening
        wake.arm()
        await backend.push("q", "job")
        assert await wake.wait(5)
    finally:
        await wake.aclose()


@pytest.mark.parametrize(
    ("dsn_text", "options"),
    [
        ("postgresql://user:s3cret@127.0.0.1:notaport/db", {}),
        ("postgresql://user:s3cret@127.0.0.1:5432/db", {"no_such_option": 1}),
    ],
)
async def test_invalid_connection_settings_raise_config_error_without_the_password(
    dsn_text: str, options: dict[str, Any]
) -> None:
    backend = PostgresBackend(dsn_text, namespace="never-opened", **options)
    with pytest.raises(ConfigError) as caught:
        await backend.open()
    assert "s3cret" not in str(caught.value)
    assert "DSN" in str(caught.value)


async def test_concurrent_opens_create_a_new_schema_exactly_once(dsn: str) -> None:
    schema = f"tc_review_{uuid.uuid4().hex[:8]}"
    backends = [PostgresBackend(dsn, namespace="ns", schema=schema, max_size=1) for _ in range(5)]
    try:
        await asyncio.gather(*(b.open() for b in backends))
        await backends[0].push("q", "job")
        assert await backends[4].queue_range("q", 0, -1) == ["job"]
        conn = await asyncpg.connect(dsn)
        try:
            versions = await conn.fetch(f'SELECT version FROM "{schema}".tc_schema_version')
        finally:
            await conn.close()
        assert [r["version"] for r in versions] == [SCHEMA_VERSION]
    finally:
        await asyncio.gather(*(b.aclose() for b in backends))
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
