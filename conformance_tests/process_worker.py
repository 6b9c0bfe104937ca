"""A worker in its own OS process, for the multi-process drain test.

``python -m conformance_tests.process_worker URL NAMESPACE NAME`` runs one
:class:`~taskcore.worker.Worker` on queue ``drain`` until SIGTERM, then ends gracefully. Its
one job, ``record(i)``, pushes ``i`` to the queue ``done`` so the test can tell how many times
each job ran.
"""

from __future__ import annotations

import asyncio
import sys

from taskcore import codec, connect
from taskcore.worker import Worker


async def run(url: str, namespace: str, name: str) -> None:
    async with connect(url, namespace=namespace) as backend:

        async def record(i: int) -> None:
            await backend.push("done", codec.dumps(i))

        worker = Worker(
            backend,
            {"record": record},
            queues=["drain"],
            name=name,
            timeout=1.0,
            install_signal_handlers=True,
        )
        await worker.run_until_stopped()


if __name__ == "__main__":
    asyncio.run(run(*sys.argv[1:4]))
