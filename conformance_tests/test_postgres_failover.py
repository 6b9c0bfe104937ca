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
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator

import asyncpg
import pytest
import pytest_asyncio

from conformance_tests import servers
from conformance_tests.engine_support import WAIT, EventLog
from taskcore import codec, connect
from taskcore.backend import Backend
from taskcore.worker import Worker

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
    performed: Counter[int] = Counter()
    quarter = asyncio.Event()

    async def record(i: int) -> None:
        performed[i] += 1
        if len(performed) >= TOTAL // 4:
            quarter.set()
        await asyncio.sleep(0.02)  # the job's work: keeps the drain going through the switch

    await admin.push_many([("q", codec.encode_job("record", "q", [i])) for i in range(TOTAL)])
    backends = [connect(pair.url, namespace=admin.namespace) for _ in range(WORKERS)]
    # Each worker also has a queue of its own, to prove after the drain that it still works.
    workers = [
        Worker(b, {"record": record}, queues=["q", f"own-{n}"], name=f"failover-{n}", timeout=0.5)
        for n, b in enumerate(backends)
    ]
    logs = [EventLog(w) for w in workers]
    for b, w in zip(backends, workers, strict=True):
        await b.open()
        await w.start()
    try:
        await _replayed_everything(pair)  # the jobs themselves are on the replica
        await asyncio.wait_for(quarter.wait(), 30)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, pair.stop_primary)
        left_at_switch = TOTAL - len(performed)
        await loop.run_in_executor(None, pair.promote_replica)
        deadline = loop.time() + 30
        while len(performed) < TOTAL:
            assert loop.time() < deadline, f"{TOTAL - len(performed)} jobs never ran"
            await asyncio.sleep(0.05)  # jobs run in the workers' tasks; poll the counter
        # Every worker takes a job of its own queue from the new primary: none was restarted.
        for n in range(WORKERS):
            await admin.push(f"own-{n}", codec.encode_job("record", f"own-{n}", [TOTAL + n]))
        for n, log in enumerate(logs):
            await log.wait_for("success", lambda queue, *_, n=n: queue == f"own-{n}", timeout=20)
    finally:
        for w in workers:
            await asyncio.wait_for(w.end(), WAIT)
        for b in backends:
            await b.aclose()
    duplicates = sum(count - 1 for count in performed.values())
    errors = sum(1 for log in logs for name in log.names() if name == "error")
    record_property("left_at_switch", left_at_switch)
    record_property("duplicates", duplicates)
    record_property("worker_errors", errors)
    print(
        f"postgres primary switch: {TOTAL} jobs, {left_at_switch} left at the switch, lost 0, "
        f"performed twice {duplicates}, worker errors {errors}"
    )
    assert left_at_switch > 0, "the switch must land mid-drain to prove anything"
    assert set(performed) == set(range(TOTAL + WORKERS))
    assert await admin.queue_length("q") == 0
    assert await admin.failure_count() == 0
    await admin.flush()
