"""PostgreSQL schema upgrades: a version-1 schema is upgraded in place on open, data kept."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from conformance_tests import servers
from conformance_tests.helpers import NOW, failure_for, job
from taskcore.backend import WorkerId
from taskcore_postgres import PostgresBackend
from taskcore_postgres.schema import SCHEMA_VERSION

pytestmark = pytest.mark.postgres


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = f"tc_upgrade_{uuid.uuid4().hex[:8]}"
    yield name
    conn = await asyncpg.connect(servers.postgres_dsn())
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


async def _downgrade_to_version_1(schema: str) -> None:
    """Turn a fresh schema into version 1's shape: tc_workers keyed on the member text."""
    conn = await asyncpg.connect(servers.postgres_dsn())
    try:
        await conn.execute(
            f"""
            ALTER TABLE "{schema}".tc_workers DROP CONSTRAINT tc_workers_pkey;
            ALTER TABLE "{schema}".tc_workers DROP COLUMN member_key;
            ALTER TABLE "{schema}".tc_workers ADD CONSTRAINT tc_workers_pkey
                PRIMARY KEY (ns, member);
            DELETE FROM "{schema}".tc_schema_version;
            INSERT INTO "{schema}".tc_schema_version (version) VALUES (1);
            """
        )
    finally:
        await conn.close()


async def test_a_version_1_schema_is_upgraded_keeping_workers_and_their_jobs(
    schema: str,
) -> None:
    dsn = servers.postgres_dsn()
    w = WorkerId("host:1", ("math",))
    async with PostgresBackend(dsn, namespace="ns", schema=schema, max_size=1) as old:
        await _downgrade_to_version_1(schema)
        # rows as version 1 wrote them: the member text is the key
        await old._run(
            lambda conn: conn.execute(
                f"""INSERT INTO "{schema}".tc_workers
                    (ns, member, name, queues, registered, started,
                     job_queue, job_payload, job_run_at)
                    VALUES ('ns', $1, $2, $3, true, $4, 'math', $5, 'Mon Jan 01 2027')""",
                w.member,
                w.name,
                list(w.queues),
                int(NOW),
                job(1),
            )
        )
    async with PostgresBackend(dsn, namespace="ns", schema=schema, max_size=1) as new:
        conn = await asyncpg.connect(dsn)
        try:
            versions = await conn.fetch(f'SELECT version FROM "{schema}".tc_schema_version')
        finally:
            await conn.close()
        assert sorted(r["version"] for r in versions) == [1, SCHEMA_VERSION]
        assert await new.list_workers() == [w]
        assert await new.worker_started(w) == int(NOW)
        current = await new.current_job(w)
        assert current is not None and current.payload == job(1)
        # the upgraded key is the one the driver computes: the same worker, not a second row
        await new.register_worker(w, NOW + 1)
        assert await new.list_workers() == [w]
        many = WorkerId("host:2", tuple(f"queue-{n:04d}" for n in range(2000)))
        await new.register_worker(many, NOW)  # a member far past the B-tree entry limit
        assert [c.payload for c in await new.clean_worker("host:1", failure_for)] == [job(1)]
        assert await new.list_workers() == [many]
