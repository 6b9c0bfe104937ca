"""pgqueuer's side of ``benchmarks.compare``: drain N no-op jobs at concurrency C.

Run by ``benchmarks.compare`` with a Python that has pgqueuer 1.6 installed (a benchmark-only
dependency, never one of taskcore's: ``--pgqueuer-python``), as::

    python benchmarks/pgqueuer_drain.py DSN JOBS CONCURRENCY

It installs pgqueuer's tables in the database when missing, deletes any job left there,
enqueues JOBS jobs (batches of 1,000), then runs one QueueManager in drain mode with one
entrypoint of ``concurrency_limit=CONCURRENCY`` and ``batch_size=CONCURRENCY`` (pgqueuer's
defaults otherwise) and prints ``done <jobs per second>``, timed from the start of ``run`` to
its return once the queue is empty. Standalone: it imports nothing of taskcore.
"""

from __future__ import annotations

import asyncio
import sys
import time

import asyncpg
from pgqueuer import AsyncpgDriver, Queries, QueueManager
from pgqueuer.models import Job
from pgqueuer.types import QueueExecutionMode


async def main(dsn: str, jobs: int, concurrency: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        driver = AsyncpgDriver(conn)
        queries = Queries(driver)
        if not await queries.has_table("pgqueuer"):
            await queries.install()
        await conn.execute("DELETE FROM pgqueuer")
        for start in range(0, jobs, 1000):
            n = min(1000, jobs - start)
            await queries.enqueue(["noop"] * n, [None] * n, [0] * n)
        manager = QueueManager(queries)

        @manager.entrypoint("noop", concurrency_limit=concurrency)
        async def noop(job: Job) -> None:
            return None

        started = time.perf_counter()
        await manager.run(batch_size=concurrency, mode=QueueExecutionMode.drain)
        elapsed = time.perf_counter() - started
        left = await conn.fetchval("SELECT count(*) FROM pgqueuer")
        if left:
            raise RuntimeError(f"pgqueuer left {left} of {jobs} jobs in its queue")
        print(f"done {jobs / elapsed:.1f}", flush=True)
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
