"""The dashboard reads health without writing the probes' state (taskcore.ops.health)."""

from __future__ import annotations

import time
import uuid

import httpx

from taskcore.backend import WorkerId
from taskcore.codec import encode_job
from taskcore.ops.health import STATE_KEY
from taskcore.queue import LEADER_LOCK, Queue
from taskcore.registry import connect
from taskcore.web import create_app


async def test_dashboard_pages_check_health_without_recording_state() -> None:
    backend = connect(f"memory://ops-dash-{uuid.uuid4().hex[:8]}", namespace="ops")
    async with backend:
        await backend.acquire_lock(LEADER_LOCK, "scheduler-1", 60)
        await backend.register_worker(WorkerId("host:1", ("math",)), time.time())
        await backend.push("math", encode_job("add", "math", [1]))
        await backend.push_failure('{"queue": "math", "payload": {}, "error": "x"}')
        app = create_app(Queue(backend), csrf_secret="t", refresh=0)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            for path in ("/", "/api/overview", "/"):
                assert (await client.get(path)).status_code == 200
            facts = (await client.get("/api/overview")).json()
        # no probe ran yet, so there is no previous check to grow from: healthy, and the
        # dashboard's four checks left nothing behind for the next probe to compare with
        assert facts["health"]["status"] == "ok", facts["health"]
        assert await backend.get_lock(STATE_KEY) is None
        await backend.flush()
