"""A worker (or a whole App) in its own OS process, for the signal tests.

``python -m conformance_tests.process_signals MODE URL NAMESPACE NAME SHUTDOWN_TIMEOUT``

``MODE`` is ``worker`` (one :class:`~taskcore.worker.Worker` with its signal handlers) or
``app`` (an :class:`~taskcore.app.App` in ``run_until_stopped``, no scheduler, one worker). Both
work the queue ``slow`` with two jobs/tasks that run for ``seconds`` (default 30):
``sleep_sync`` (a plain function, so it runs in a thread) and ``sleep_async`` (which takes
``cleanup`` seconds to tidy up when cancelled). When a job starts,
the process prints ``job <class>`` on stdout, so the test knows when to send its signals.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from taskcore import connect
from taskcore.app import App
from taskcore.config import Settings
from taskcore.tasks import TaskRegistry
from taskcore.worker import Worker


def sleep_sync(seconds: float = 30.0) -> str:
    time.sleep(seconds)
    return "slept"


async def sleep_async(seconds: float = 30.0, cleanup: float = 0.0) -> str:
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        await asyncio.sleep(cleanup)  # a job tidying up after it was cancelled
        raise
    return "slept"


def announce(*args: Any) -> None:
    """The worker's ``job(queue, job)`` event (the App adds the child's name first)."""
    print(f"job {args[-1].class_name}", flush=True)


async def run_worker(url: str, namespace: str, name: str, shutdown_timeout: float) -> None:
    async with connect(url, namespace=namespace) as backend:
        worker = Worker(
            backend,
            {"sleep_sync": sleep_sync, "sleep_async": sleep_async},
            queues=["slow"],
            name=name,
            timeout=1.0,
            shutdown_timeout=shutdown_timeout,
            install_signal_handlers=True,
        )
        worker.on("job", announce)
        await worker.run_until_stopped()


async def run_app(url: str, namespace: str, name: str, shutdown_timeout: float) -> None:
    tasks = TaskRegistry()

    @tasks.task(queue="slow")
    async def app_sleep_async() -> str:
        return await sleep_async()

    settings = Settings(
        url=url,
        namespace=namespace,
        queues=["slow"],
        scheduler=False,
        min_workers=1,
        max_workers=1,
        timeout=1.0,
        shutdown_timeout=shutdown_timeout,
    )
    app = App(settings, tasks, name=name)
    app.on("worker.job", announce)
    await app.run_until_stopped()


if __name__ == "__main__":
    mode, url, namespace, name, deadline = sys.argv[1:6]
    runner = run_worker if mode == "worker" else run_app
    asyncio.run(runner(url, namespace, name, float(deadline)))
