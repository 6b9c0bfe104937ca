"""Prometheus metrics scraped over real HTTP (a server on a free loopback port)."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
import uuid

from prometheus_client.parser import text_string_to_metric_families

from taskcore.app import App
from taskcore.config import Settings
from taskcore.ops.metrics import metrics_app
from taskcore.ops.serve import serve
from taskcore.ops.stats import PROCESS
from taskcore.tasks import TaskRegistry

tasks = TaskRegistry()


@tasks.task(queue="work")
async def add(a: int, b: int) -> int:
    return a + b


@tasks.task(queue="work")
async def explode() -> None:
    raise RuntimeError("kaboom")


def fetch(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read().decode()
            return response.status, response.headers["content-type"], body
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["content-type"], exc.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_scraped_values_match_what_was_enqueued_and_worked() -> None:
    PROCESS.reset()
    settings = Settings(
        url=f"memory://ops-metrics-{uuid.uuid4().hex[:8]}",
        namespace="ops",
        queues=["work"],
        timeout=0.05,
        check_interval=0.05,
        min_workers=1,
        max_workers=1,
    )
    done = asyncio.Event()
    outcomes: list[str] = []

    def outcome(event: str) -> None:
        outcomes.append(event)
        if len(outcomes) == 4:
            done.set()

    app = App(settings, tasks, name="m1")
    app.on("worker.success", lambda *_: outcome("success"))
    app.on("worker.failure", lambda *_: outcome("failure"))
    async with app:
        for n in range(3):
            await app.task.enqueue("add", {"a": n, "b": 1})
        await app.task.enqueue("explode", {})
        await asyncio.wait_for(done.wait(), 10)
        # jobs no worker here takes: two on another queue, one delayed
        await app.queue.enqueue("other", "add", [1, 2])
        await app.queue.enqueue("other", "add", [3, 4])
        await app.queue.enqueue_in(3_600_000, "other", "add", [5, 6])
        server = await serve(metrics_app(lambda: app.queue), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            url = f"http://127.0.0.1:{port}"
            status, content_type, body = await asyncio.to_thread(fetch, f"{url}/metrics")
            missing = await asyncio.to_thread(fetch, f"{url}/nope")
        finally:
            server.close()
            await server.wait_closed()
    assert status == 200 and content_type.startswith("text/plain; version=")
    assert missing[0] == 404
    got = samples(body)
    work_add = (("class", "add"), ("queue", "work"))
    assert got[("taskcore_jobs_processed_total", work_add)] == 3
    assert got[("taskcore_jobs_failed_total", (("class", "explode"), ("queue", "work")))] == 1
    assert got[("taskcore_job_duration_seconds_count", work_add)] == 3
    assert (
        got[("taskcore_job_duration_seconds_bucket", tuple(sorted((*work_add, ("le", "+Inf")))))]
        == 3
    )
    assert got[("taskcore_queue_length", (("queue", "other"),))] == 2
    assert got[("taskcore_queue_length", (("queue", "work"),))] == 0
    assert got[("taskcore_delayed_jobs", ())] == 1
    assert got[("taskcore_failed_jobs", ())] == 1
    assert got[("taskcore_scheduler_leader", ())] == 1
    # the App's own scheduler, from its events: it leads and has polled
    assert got[("taskcore_scheduler_leading", ())] == 1
    assert got[("taskcore_scheduler_poll_duration_seconds_count", ())] >= 1
    assert got[("taskcore_workers", (("state", "idle"),))] == 1
    assert got[("taskcore_workers", (("state", "busy"),))] == 0
    assert got[("taskcore_storage_up", ())] == 1


async def test_a_malformed_request_gets_400_and_the_server_keeps_serving() -> None:
    calls: list[str] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        calls.append(str(scope["path"]))
        send_ = send
        await send_({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send_({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]

    server = await serve(app, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GARBAGE\r\n\r\n")
        await writer.drain()
        reply = await reader.read()
        writer.close()
        status, _, body = await asyncio.to_thread(fetch, f"http://127.0.0.1:{port}/metrics")
    finally:
        server.close()
        await server.wait_closed()
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert (status, body, calls) == (200, "ok", ["/metrics"])
