"""A PostgreSQL primary switch mid-drain: the primary dies, its streaming replica is promoted,
and workers that know both hosts (``target_session_attrs=read-write``) carry on on the new
primary without a restart, losing no job.

The pair comes from :func:`conformance_tests.servers.start_postgres_pair` (a primary and a
``pg_basebackup -R`` replica on free ports), started for this module only. Replication is
asynchronous: what the old primary committed but had not streamed when it died is gone. The
jobs are all replicated before the switch (the test waits for the replica to replay them), so
what the window can lose is reservations and completions, which makes jobs run twice (at least
once), never vanish. The count run twice is reported.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import asyncpg
import pytest
import pytest_asyncio

from conformance_tests import servers
from conformance_tests.failover import JOB, Drain, report, running_workers
from taskcore import codec, connect
from taskcore.backend import Backend

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio]

TOTAL = 300
WORKERS = 3


@pytest.fixture(scope="module")
def pair() -> Iterator[servers.PostgresPair]:
    started = servers.start_postgres_pair()
    try:
        yield started
    finally:
        started.close()


@pytest_asyncio.fixture
async def admin(pair: servers.PostgresPair) -> AsyncIterator[Backend]:
    async with connect(pair.url, namespace=f"failover-{uuid.uuid4().hex[:12]}") as backend:
        yield backend


async def _replayed_everything(pair: servers.PostgresPair) -> None:
    """Wait until the replica has replayed every WAL record the primary has written."""
    primary = await asyncpg.connect(pair.direct_url(pair.primary_port), timeout=10)
    replica = await asyncpg.connect(pair.direct_url(pair.replica_port), timeout=10)
    try:
        target = await primary.fetchval("SELECT pg_current_wal_lsn()")
        for _ in range(200):
            replayed = await replica.fetchval("SELECT pg_last_wal_replay_lsn()")
            if replayed >= target:
                return
            await asyncio.sleep(0.05)  # the replica's replay is another process: no event
        raise AssertionError("the replica did not replay the primary's WAL within 10 s")
    finally:
        await primary.close()
        await replica.close()


async def test_workers_draining_across_a_primary_switch_lose_no_job(
    pair: servers.PostgresPair, admin: Backend, record_property: Callable[[str, object], None]
) -> None:
    drain = Drain(TOTAL)
    await admin.push_many([("q", codec.encode_job(JOB, "q", [i])) for i in range(TOTAL)])
    backends = [connect(pair.url, namespace=admin.namespace) for _ in range(WORKERS)]
    # Each worker also has a queue of its own, to prove after the drain that it still works.
    async with running_workers(backends, drain, lambda n: ["q", f"own-{n}"]) as logs:
        await _replayed_everything(pair)  # the jobs themselves are on the replica
        await asyncio.wait_for(drain.quarter.wait(), 30)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, pair.stop_primary)
        left_at_switch = drain.left
        await loop.run_in_executor(None, pair.promote_replica)
        await drain.until_done(30)
        # Every worker takes a job of its own queue from the new primary: none was restarted.
        for n in range(WORKERS):
            await admin.push(f"own-{n}", codec.encode_job(JOB, f"own-{n}", [TOTAL + n]))
        for n, log in enumerate(logs):
            await log.wait_for("success", lambda queue, *_, n=n: queue == f"own-{n}", timeout=20)
    report("postgres primary switch", drain, logs, left_at_switch, record_property)
    assert left_at_switch > 0, "the switch must land mid-drain to prove anything"
    assert set(drain.performed) == set(range(TOTAL + WORKERS))
    assert await admin.queue_length("q") == 0
    assert await admin.failure_count() == 0
    await admin.flush()
