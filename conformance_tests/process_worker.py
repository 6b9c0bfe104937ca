"""A worker in its own OS process, for the multi-process drain test.

``python -m conformance_tests.process_worker URL NAMESPACE NAME [POOL]`` runs one
:class:`~taskcore.worker.Worker` on queue ``drain`` until SIGTERM, then ends gracefully; with
``POOL`` (a number) a :class:`~taskcore.multiworker.MultiWorker` of that many workers instead,
whose workers share the backend (and, on PostgreSQL, its reserve statements), until the
process is killed. Its one job,
``record(i)``, pushes ``i`` to the queue ``done`` so the test can tell how many times each job
ran.
"""

from __future__ import annotations

import asyncio
import sys

from taskcore import codec, connect
from taskcore.multiworker import MultiWorker
from taskcore.worker import Worker


async def run(url: str, namespace: str, name: str, pool: str = "") -> None:
    async with connect(url, namespace=namespace) as backend:

        async def record(i: int) -> None:
            await backend.push("done", codec.dumps(i))

        jobs = {"record": record}
        if pool:
            size = int(pool)
            multi = MultiWorker(
                backend, jobs, queues=["drain"], name=name, min_workers=size, max_workers=size
            )
            await multi.start()
            await asyncio.Event().wait()  # until killed
        worker = Worker(
            backend, jobs, queues=["drain"], name=name, timeout=1.0, install_signal_handlers=True
        )
        await worker.run_until_stopped()


if __name__ == "__main__":
    asyncio.run(run(*sys.argv[1:5]))
