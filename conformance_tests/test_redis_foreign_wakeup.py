"""Jobs pushed by other producers (node-resque, resque: a raw ``RPUSH``, no taskcore publish)
wake an idle Redis worker: through keyspace notifications when the server has them on
(``notify-keyspace-events Kl``), otherwise through the worker's ``poll_interval``. The worker's
``timeout`` (30 s here) is far longer than the test waits, so only these paths can explain a
prompt start."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from conformance_tests.engine_support import EventLog
from conformance_tests.servers import redis_url
from taskcore import codec
from taskcore.jobs import Jobs
from taskcore.worker import Worker
from taskcore_redis import RedisBackend
from taskcore_redis.backend import from_url

pytestmark = pytest.mark.redis

FLAGS = "notify-keyspace-events"


@pytest.fixture
async def admin() -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url(), decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def namespace() -> str:
    return f"taskcore-test-{uuid.uuid4().hex[:12]}"


async def foreign_push_starts_the_job(
    backend: RedisBackend, admin: Redis, poll_interval: float | None = None
) -> None:
    """An idle worker (timeout 30 s) runs a job that a raw RPUSH put in its queue."""

    async def add(a: int, b: int) -> int:
        return a + b

    worker = Worker(
        backend, Jobs({"add": add}), queues=["foreign"], timeout=30.0, poll_interval=poll_interval
    )
    log = EventLog(worker)
    await worker.start()
    try:
        await log.wait_for("pause")  # idle, waiting on its wake-up
        job = codec.encode_job("add", "foreign", [1, 2])
        await admin.rpush(f"{backend.namespace}:queue:foreign", job)  # as node-resque does
        _queue, _job, result, _duration = await log.wait_for("success")
        assert result == 3
    finally:
        await worker.end()


async def test_keyspace_notifications_wake_an_idle_worker_for_a_raw_rpush(
    admin: Redis, namespace: str
) -> None:
    before = str((await admin.config_get(FLAGS)).get(FLAGS) or "")
    await admin.config_set(FLAGS, "".join(dict.fromkeys(before + "Kl")))
    backend = from_url(redis_url(), namespace=namespace)
    try:
        wake = await backend.wake_up(["foreign"])
        assert wake.sees_foreign_pushes, "the server's keyspace notifications were not detected"
        await wake.aclose()
        await foreign_push_starts_the_job(backend, admin)
    finally:
        await admin.config_set(FLAGS, before)
        await backend.flush()
        await backend.aclose()


async def test_without_keyspace_notifications_the_poll_interval_finds_a_raw_rpush(
    admin: Redis, namespace: str
) -> None:
    backend = from_url(redis_url(), namespace=namespace, keyspace_notifications=False)
    try:
        wake = await backend.wake_up(["foreign"])
        assert not wake.sees_foreign_pushes
        await wake.aclose()
        await foreign_push_starts_the_job(backend, admin, poll_interval=0.05)
    finally:
        await backend.flush()
        await backend.aclose()


async def test_a_pop_is_not_a_push(admin: Redis, namespace: str) -> None:
    """Keyspace events for pops (every reserve) do not wake anyone: no busy loop."""
    before = str((await admin.config_get(FLAGS)).get(FLAGS) or "")
    await admin.config_set(FLAGS, "".join(dict.fromkeys(before + "Kl")))
    backend = from_url(redis_url(), namespace=namespace)
    try:
        wake = await backend.wake_up(["foreign"])
        assert wake.sees_foreign_pushes
        key = f"{namespace}:queue:foreign"
        await admin.rpush(key, "x")
        assert await wake.wait(5.0)
        wake.arm()
        await admin.lpop(key)
        assert not await wake.wait(0.2)
        await admin.lpush(key, "y")
        assert await wake.wait(5.0)
        await wake.aclose()
    finally:
        await admin.config_set(FLAGS, before)
        await backend.flush()
        await backend.aclose()
