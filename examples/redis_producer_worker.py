"""A producer and a worker sharing Redis (run each in its own terminal).

    python examples/redis_producer_worker.py worker     # works jobs until Ctrl-C
    python examples/redis_producer_worker.py produce    # enqueues a few jobs and exits

Set TASKCORE_URL to point elsewhere (default redis://127.0.0.1:6379/0). The same jobs can be
produced or worked by node-resque / Actionhero on that Redis: a task job is
{"class": "resize_image", "queue": "images", "args": [{"path": ..., "width": ...}]}.
"""

from __future__ import annotations

import asyncio
import os
import sys

from taskcore.app import App
from taskcore.config import Settings
from taskcore.tasks import TaskRegistry

tasks = TaskRegistry()


@tasks.task(queue="images", plugins=["Retry"], plugin_options={"Retry": {"retry_limit": 3}})
async def resize_image(path: str, width: int = 800) -> str:
    await asyncio.sleep(0.1)  # stands for real I/O
    return f"{path} resized to {width}px"


def settings(**changes: object) -> Settings:
    url = os.environ.get("TASKCORE_URL", "redis://127.0.0.1:6379/0")
    return Settings(url=url, namespace="taskcore-example", **changes)


async def produce() -> None:
    app = App(settings(scheduler=False, max_workers=0), tasks)
    async with app:
        for i in range(5):
            await app.task.enqueue("resize_image", {"path": f"/photos/{i}.jpg"})
        await app.task.enqueue_in(3000, "resize_image", {"path": "/photos/later.jpg"})
        print("queued:", (await app.task.details())["queues"])


async def work() -> None:
    app = App(settings(max_workers=4), tasks)
    app.on("worker.success", lambda worker, q, job, result, d: print(worker, result))
    await app.run_until_stopped()  # Ctrl-C: running jobs finish, workers unregister


if __name__ == "__main__":
    asyncio.run(work() if sys.argv[1:] == ["worker"] else produce())
