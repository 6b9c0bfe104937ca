"""The PostgreSQL driver's held connections: what a caller relies on when calls overlap, are
cancelled, or find their connection closed by the server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from conformance_tests import servers
from taskcore_postgres import PostgresBackend

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def dsn() -> str:
    return servers.postgres_dsn()


@pytest.fixture
async def backend(dsn: str) -> AsyncIterator[PostgresBackend]:
    b = PostgresBackend(dsn, namespace=f"conn-{uuid.uuid4().hex[:8]}", max_size=2)
    await b.open()
    try:
        yield b
    finally:
        await b.flush()
        await b.aclose()


async def test_more_concurrent_calls_than_the_pool_size_all_complete(
    backend: PostgresBackend,
) -> None:
    await backend.push("q", "job")
    lengths = await asyncio.wait_for(
        asyncio.gather(*(backend.queue_length("q") for _ in range(20))), 10
    )
    assert lengths == [1] * 20


async def test_a_cancelled_call_leaves_the_backend_usable(backend: PostgresBackend) -> None:
    await backend.ping()
    slow = asyncio.ensure_future(backend._run(lambda conn: conn.execute("SELECT pg_sleep(5)")))
    await asyncio.sleep(0.2)  # the statement is running on the server
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    await asyncio.wait_for(backend.push("q", "after"), 4)
    assert await backend.queue_range("q", 0, -1) == ["after"]


async def test_a_held_connection_the_server_closed_is_replaced(
    backend: PostgresBackend, dsn: str
) -> None:
    await backend.push("q", "job")
    pids = await asyncio.gather(
        *(backend._run(lambda conn: conn.fetchval("SELECT pg_backend_pid()")) for _ in range(2))
    )
    admin = await asyncpg.connect(dsn)
    try:
        for pid in set(pids):
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    assert await backend.queue_length("q") == 1


async def test_aclose_while_a_call_runs_waits_for_it_and_returns(dsn: str) -> None:
    backend = PostgresBackend(dsn, namespace=f"conn-{uuid.uuid4().hex[:8]}", max_size=2)
    await backend.open()
    slow = asyncio.ensure_future(
        backend._run(lambda conn: conn.fetchval("SELECT pg_sleep(0.5)::text || 'done'"))
    )
    await asyncio.sleep(0.1)  # the statement is running on the server
    await asyncio.wait_for(backend.aclose(), 5)
    assert await slow == "done"
