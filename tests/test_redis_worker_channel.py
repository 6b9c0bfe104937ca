"""A Redis worker's step calls run on a connection of its own (``Backend.worker_channel``):
closed when the worker ends, and a drop of it mid-drain loses and repeats no job."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from conformance_tests.engine_support import WAIT, EventLog
from conformance_tests.helpers import flushed
from conformance_tests.servers import redis_url
from taskcore import codec
from taskcore.worker import Worker
from taskcore_redis import from_url
from taskcore_redis.backend import RedisBackend
from taskcore_redis.dedicated import pack

JOBS = 200


@pytest.fixture
async def backend() -> AsyncIterator[RedisBackend]:
    async with flushed(from_url(redis_url(), namespace=f"chan-{uuid.uuid4().hex[:8]}")) as b:
        yield b


async def _clients_named(admin: Redis, name: str) -> list[dict[str, str]]:
    return [c for c in await admin.client_list() if c.get("name") == name]


async def test_the_step_connection_is_the_workers_own_and_closed_when_it_ends(
    backend: RedisBackend,
) -> None:
    channel = await backend.worker_channel()
    assert channel is not backend
    marker = f"taskcore-test-{uuid.uuid4().hex[:8]}"
    admin = Redis.from_url(redis_url(), decode_responses=True)
    try:
        assert channel._dedicated is not None
        # connected by worker_channel; named here to find it in CLIENT LIST
        await channel._dedicated._conn.send_command("CLIENT", "SETNAME", marker)
        assert await channel._dedicated._conn.read_response() in ("OK", b"OK")
        assert len(await _clients_named(admin, marker)) == 1
        await backend.release_worker_channel(channel)
        for _ in range(100):
            if not await _clients_named(admin, marker):
                break
            await asyncio.sleep(0.01)  # the server drops the client asynchronously
        assert await _clients_named(admin, marker) == []
    finally:
        await admin.aclose()


async def test_a_dropped_step_connection_loses_and_repeats_no_job(backend: RedisBackend) -> None:
    seen: list[int] = []
    half = asyncio.Event()

    async def record(n: int) -> None:
        seen.append(n)
        if len(seen) == JOBS // 2:
            half.set()

    await backend.push_many([("q", codec.encode_job("record", "q", [n])) for n in range(JOBS)])
    worker = Worker(backend, {"record": record}, queues=["q"], name="chan", timeout=0.2)
    log = EventLog(worker)
    await worker.start()
    try:
        await asyncio.wait_for(half.wait(), WAIT)
        dedicated = worker._channel._dedicated  # type: ignore[attr-defined]
        assert dedicated is not None
        await dedicated._conn.disconnect()  # the link drops under the worker
        await log.wait_for("success", count=JOBS)
    finally:
        await worker.end()
    assert sorted(seen) == list(range(JOBS))
    assert (await backend.stats())["processed"] == JOBS
    assert await backend.failure_count() == 0


def test_pack_frames_a_command_as_redis_py_does_and_remembers_only_short_arguments() -> None:
    conn = Redis(decode_responses=True, encoding_errors="surrogateescape").connection_pool
    connection = conn.make_connection()  # type: ignore[no-untyped-call]
    record = "x" * 5000
    items: list[bytes | str | int] = [
        "EVALSHA",
        "ab" * 20,
        2,
        "k:1",
        "caf\u00e9",
        "\udcff",
        17,
        record,
    ]
    memo: dict[object, bytes] = {}
    expected = b"".join(connection.pack_command(*items))
    assert pack(items, connection.encoder.encode, memo) == expected
    assert pack(items, connection.encoder.encode, memo) == expected  # from the memo
    assert record not in memo and "k:1" in memo and 17 in memo
