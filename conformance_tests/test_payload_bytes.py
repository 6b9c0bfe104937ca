"""Payload bytes that are not UTF-8, or hold NUL: kept byte for byte, or refused whole.

Another resque client, a bug or a hand edit can put any bytes in a queue. A driver declaring
``Capabilities.binary_payloads`` hands them over as a ``str`` whose undecodable bytes are lone
surrogates (PEP 383) and writes that ``str`` back as the same bytes, so listing, reserving,
exact-match removal and failure records lose nothing. A driver without it refuses such text at
every writer with ``InvalidArgument`` and stores nothing. Failure records built with
``codec.embed_payload`` are ASCII-escaped and storable everywhere.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import pytest

from conformance_tests import drivers
from conformance_tests.drivers import DriverSpec
from conformance_tests.helpers import NOW, job, worker
from taskcore.backend import Backend, Outcome
from taskcore.codec import decode_failure, embed_payload, encode_failure, original_bytes
from taskcore.errors import InvalidArgument

__all__ = [
    "BinaryPayloadsContract",
    "EscapedFailureContract",
    "RawRedisBytesContract",
    "RefusedPayloadsContract",
]

T = int(NOW)

BINARY: dict[str, bytes] = {
    "invalid utf-8": b'{"class":"add","queue":"math","args":["\xff\xfe\xc3"]}',
    "nul": b'{"class":"add","queue":"math","args":["a\x00b"]}',
    "encoded surrogate": b'{"class":"add","queue":"math","args":["\xed\xa0\x80"]}',
    "not json": b"\x00\x80\xff add(1, 2)",
}
"""Payloads only ``binary_payloads`` storage can hold (the ``nul`` one is valid JSON bytes
with a raw NUL inside a string, which strict JSON refuses)."""


def text_of(raw: bytes) -> str:
    """``raw`` as a driver with ``binary_payloads`` hands it over."""
    return raw.decode("utf-8", "surrogateescape")


def failure_record(payload: str) -> str:
    """A worker's failure record for ``payload``, embedded as the worker embeds it."""
    return encode_failure(
        worker="host:1",
        queue="math",
        payload=embed_payload(payload),
        exception="MalformedPayload",
        error="job payload is not valid UTF-8",
        backtrace=[],
        failed_at="Mon Nov 23 2026 06:18:16 GMT+0000 (Coordinated Universal Time)",
    )


def _params(binary: bool) -> list[Any]:
    return [
        p
        for p in drivers.pytest_params()
        if drivers.capabilities_of(p.values[0]).binary_payloads is binary
    ]


payloads = pytest.mark.parametrize("raw", BINARY.values(), ids=BINARY.keys())


class BinaryPayloadsContract:
    """On storage declaring ``binary_payloads``: every byte survives every path."""

    pytestmark = [pytest.mark.asyncio, pytest.mark.requires_capability("binary_payloads")]

    @payloads
    async def test_pushed_bytes_come_back_identical_from_range_and_reserve(
        self, backend: Backend, raw: bytes
    ) -> None:
        text = text_of(raw)
        await backend.push("math", job(1))
        await backend.push("math", text)
        await backend.push("math", job(2))
        listed = await backend.queue_range("math", 0, -1)
        assert listed == [job(1), text, job(2)]
        assert original_bytes(listed[1]) == raw

        w = worker()
        reserved = [await backend.reserve(["math"], w, NOW)]
        await backend.complete(w, Outcome.success())
        reserved.append(await backend.reserve(["math"], w, NOW))
        assert [r.payload if r else None for r in reserved] == [job(1), text]
        current = await backend.current_job(w)
        assert current is not None and original_bytes(current.payload) == raw

    @payloads
    async def test_remove_from_queue_matches_the_exact_bytes(
        self, backend: Backend, raw: bytes
    ) -> None:
        # a payload one byte different must not match
        other = raw[:-1] + bytes([raw[-1] ^ 1])
        await backend.push("math", text_of(other))
        await backend.push("math", text_of(raw))
        assert await backend.remove_from_queue("math", text_of(raw)) == 1
        assert await backend.queue_range("math", 0, -1) == [text_of(other)]

    @payloads
    async def test_delayed_bytes_are_listed_matched_and_removed_exactly(
        self, backend: Backend, raw: bytes
    ) -> None:
        # Promotion routes by the payload's own "queue" (node-resque's rule), so only its
        # storage and exact matching are pinned here for bytes that are not JSON.
        text = text_of(raw)
        assert await backend.schedule(T, "math", text) is True
        assert await backend.schedule(T, "math", text) is False  # one copy per second
        stored = await backend.delayed_at(T)
        assert stored == [text] and original_bytes(stored[0]) == raw
        assert await backend.scheduled_at(text) == [T]
        assert await backend.remove_delayed(text) == [T]
        assert await backend.delayed_timestamps() == []

    @payloads
    async def test_a_failed_job_is_recorded_and_removed_byte_for_byte(
        self, backend: Backend, raw: bytes
    ) -> None:
        text = text_of(raw)
        await backend.push("math", text)
        w = worker()
        reserved = await backend.reserve(["math"], w, NOW)
        assert reserved is not None
        record = failure_record(reserved.payload)
        await backend.complete(w, Outcome.failure(record))

        assert await backend.failures(0, -1) == [record]
        failure = decode_failure((await backend.failures(0, 0))[0])
        assert failure.malformed_payload is not None
        assert original_bytes(failure.malformed_payload) == raw
        assert await backend.remove_failure(record) == 1
        assert await backend.failure_count() == 0

    @payloads
    async def test_lock_values_keep_their_bytes(self, backend: Backend, raw: bytes) -> None:
        assert await backend.acquire_lock("lock:odd", text_of(raw), 60) is True
        value = await backend.get_lock("lock:odd")
        assert value is not None and original_bytes(value) == raw

    @pytest.mark.parametrize("text", ["\udc28", "a\ud800b"], ids=["ascii byte", "high"])
    async def test_a_surrogate_that_stands_for_no_byte_is_refused(
        self, backend: Backend, text: str
    ) -> None:
        # only U+DC80..U+DCFF stand for bytes (surrogateescape); a str holding any other lone
        # surrogate has no bytes to store
        with pytest.raises(InvalidArgument) as info:
            await backend.push("math", text)
        assert "\n" not in str(info.value)
        assert await backend.queue_length("math") == 0


class RefusedPayloadsContract:
    """On storage without ``binary_payloads``: each writer refuses such text, storing nothing."""

    pytestmark = pytest.mark.asyncio

    @payloads
    async def test_writers_refuse_text_the_storage_cannot_hold(
        self, backend: Backend, raw: bytes
    ) -> None:
        text = text_of(raw)
        raw_record = '{"worker":"w","queue":"math","payload":' + text + "}"
        calls: dict[str, list[Coroutine[Any, Any, object]]] = {
            "payload": [
                backend.push("math", text),
                backend.push("math", text, front=True),
                backend.schedule(T, "math", text),
                backend.retry_failure(failure_record(job(1)), "math", text),
            ],
            "record": [backend.push_failure(raw_record)],
            "value": [backend.acquire_lock("lock:odd", text, 60)],
        }
        for name, coroutines in calls.items():
            for call in coroutines:
                with pytest.raises(InvalidArgument, match=f"^{name} holds") as info:
                    await call
                assert "\n" not in str(info.value)
        assert await backend.queue_length("math") == 0
        assert await backend.list_queues() == []
        assert await backend.delayed_timestamps() == []
        assert await backend.failure_count() == 0
        assert await backend.get_lock("lock:odd") is None

    async def test_a_queued_failure_is_kept_when_retry_is_refused(self, backend: Backend) -> None:
        record = failure_record(job(1))
        await backend.push_failure(record)
        with pytest.raises(InvalidArgument):
            await backend.retry_failure(record, "math", text_of(BINARY["invalid utf-8"]))
        assert await backend.failures(0, -1) == [record]
        assert await backend.queue_length("math") == 0


class EscapedFailureContract:
    """A failure record built with ``embed_payload`` is storable on every driver, and gives
    back the exact bytes of the payload it embeds."""

    pytestmark = pytest.mark.asyncio

    @payloads
    async def test_escaped_failure_records_round_trip(self, backend: Backend, raw: bytes) -> None:
        record = failure_record(text_of(raw))
        assert record.isascii() or "\x00" not in record
        await backend.push_failure(record)
        assert await backend.failures(0, -1) == [record]
        failure = decode_failure(record)
        assert failure.malformed_payload is not None
        assert original_bytes(failure.malformed_payload) == raw
        assert await backend.remove_failure(record) == 1


class RawRedisBytesContract:
    """Wire format: the bytes in Redis are the payload's own bytes, in both directions."""

    pytestmark = pytest.mark.asyncio

    @staticmethod
    async def stored_bytes(backend: Backend, key: str, index: int) -> bytes:
        """The exact bytes of list element ``index`` of ``key`` (no client decoding: Lua)."""
        client: Any = getattr(backend, "client")  # noqa: B009 - not on Backend's type
        script = "return {string.byte(redis.call('lindex', KEYS[1], ARGV[1]), 1, -1)}"
        codes: list[int] = await client.eval(script, 1, key, index)
        return bytes(int(c) for c in codes)

    @payloads
    async def test_pushed_text_is_stored_as_the_original_bytes(
        self, backend: Backend, raw: bytes
    ) -> None:
        await backend.push("math", text_of(raw))
        key = f"{backend.namespace}:queue:math"
        assert await self.stored_bytes(backend, key, 0) == raw

    @payloads
    async def test_bytes_written_raw_are_read_and_removed(
        self, backend: Backend, raw: bytes
    ) -> None:
        client: Any = getattr(backend, "client")  # noqa: B009 - not on Backend's type
        key = f"{backend.namespace}:queue:math"
        await client.sadd(f"{backend.namespace}:queues", "math")
        await client.rpush(key, raw, job(1).encode())
        listed = await backend.queue_range("math", 0, -1)
        assert [original_bytes(p) for p in listed] == [raw, job(1).encode()]
        assert await backend.remove_from_queue("math", listed[0]) == 1
        assert await self.stored_bytes(backend, key, 0) == job(1).encode()


class TestBinaryPayloads(BinaryPayloadsContract):
    @pytest.fixture(params=_params(binary=True))
    def driver(self, request: pytest.FixtureRequest) -> DriverSpec:
        spec: DriverSpec = request.param
        return spec


class TestRefusedPayloads(RefusedPayloadsContract):
    @pytest.fixture(params=_params(binary=False))
    def driver(self, request: pytest.FixtureRequest) -> DriverSpec:
        spec: DriverSpec = request.param
        return spec


class TestEscapedFailure(EscapedFailureContract):
    pass


class TestRawRedisBytes(RawRedisBytesContract):
    @pytest.fixture(params=drivers.pytest_params(requires="resque_wire_format"))
    def driver(self, request: pytest.FixtureRequest) -> DriverSpec:
        spec: DriverSpec = request.param
        return spec
