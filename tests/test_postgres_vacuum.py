"""The PostgreSQL driver keeps its jobs table vacuumed where autovacuum does not run on it.

Without it, every reserved job leaves a dead index entry that each later reserve walks past,
so a long drain slows down until it looks hung (a 1,000,000-job soak with the server's
autovacuum off). These tests switch autovacuum off for one private schema's table, whatever
the server's setting, and check the driver's own vacuum ran and removed the dead rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from conformance_tests import servers
from conformance_tests.helpers import flushed
from taskcore.backend import WorkerId
from taskcore_postgres import PostgresBackend

pytestmark = pytest.mark.postgres

EVERY = 50


@pytest.fixture(scope="module")
def dsn() -> str:
    return servers.postgres_dsn()


@pytest.fixture
async def schema(dsn: str) -> AsyncIterator[str]:
    name = f"vac_{uuid.uuid4().hex[:8]}"
    yield name
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


async def _table_stats(dsn: str, schema: str) -> tuple[int, int]:
    """(manual vacuum count, dead rows) of the schema's tc_jobs."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT vacuum_count, n_dead_tup FROM pg_stat_user_tables "
            "WHERE schemaname = $1 AND relname = 'tc_jobs'",
            schema,
        )
    finally:
        await conn.close()
    assert row is not None
    return int(row[0]), int(row[1])


async def _drain(backend: PostgresBackend, jobs: int) -> None:
    worker = WorkerId("vacuum-test", ("q",))
    await backend.push_many([("q", f"job {i}") for i in range(jobs)])
    for _ in range(jobs):
        assert await backend.reserve(["q"], worker, 1_000.0) is not None


async def test_reserved_jobs_are_vacuumed_away_when_autovacuum_is_off_for_the_table(
    dsn: str, schema: str
) -> None:
    async with flushed(PostgresBackend(dsn, namespace="ns", schema=schema)) as backend:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'ALTER TABLE "{schema}".tc_jobs SET (autovacuum_enabled = false)')
        finally:
            await conn.close()
        backend.vacuum.every = EVERY
        await _drain(backend, EVERY)
        await backend.vacuum.wait()
        vacuums, dead = await _table_stats(dsn, schema)
        assert backend.vacuum.vacuums == 1
        assert vacuums == 1, "the driver did not vacuum tc_jobs after EVERY reserved jobs"
        assert dead == 0, f"{dead} reserved jobs' dead rows are still in tc_jobs"
        await _drain(backend, EVERY - 1)  # fewer than EVERY since: no second vacuum yet
        await backend.vacuum.wait()
        assert backend.vacuum.vacuums == 1
