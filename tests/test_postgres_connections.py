"""The PostgreSQL driver's held connections: what a caller relies on when calls overlap, are
cancelled, or find their connection closed by the server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from conformance_tests import servers
from conformance_tests.helpers import flushed
from taskcore_postgres import PostgresBackend

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def dsn() -> str:
    return servers.postgres_dsn()


@pytest.fixture
async def backend(dsn: str) -> AsyncIterator[PostgresBackend]:
    async with flushed(
        PostgresBackend(dsn, namespace=f"conn-{uuid.uuid4().hex[:8]}", max_size=2)
    ) as b:
        yield b


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


async def test_a_statement_aborted_by_a_deadlock_runs_again(backend: PostgresBackend) -> None:
    # Two transactions lock two rows in opposite orders; PostgreSQL aborts one of them
    # (after deadlock_timeout, 1 s by default). The driver must run the aborted one again, so
    # both calls succeed and both writes are there.
    await backend.set_lock("dl:a", "0", None)
    await backend.set_lock("dl:b", "0", None)
    both_hold_one = asyncio.Barrier(2)
    table = f"{backend._sql.schema}.tc_locks"

    def crossing(first: str, second: str, value: str):  # type: ignore[no-untyped-def]
        attempts = 0

        async def op(conn: asyncpg.Connection) -> int:
            nonlocal attempts
            attempts += 1
            async with conn.transaction():
                sql = f"UPDATE {table} SET value = $3 WHERE ns = $1 AND name = $2"
                await conn.execute(sql, backend.namespace, first, value)
                if attempts == 1:
                    await both_hold_one.wait()
                await conn.execute(sql, backend.namespace, second, value)
            return attempts

        return op

    results = await asyncio.wait_for(
        asyncio.gather(
            backend._run(crossing("dl:a", "dl:b", "x")),
            backend._run(crossing("dl:b", "dl:a", "y")),
        ),
        20,
    )
    assert sorted(results) == [1, 2]  # one ran once, the deadlock victim twice
    values = {await backend.get_lock("dl:a"), await backend.get_lock("dl:b")}
    assert len(values) == 1 and values <= {"x", "y"}  # the retried one committed last, whole
