"""Wire format: the raw Redis keys a resque-wire-format driver writes, as node-resque 9 reads them.

Facts pinned here come from ``shared/reference/node-resque-spec.md`` (sections 0-3): key names,
JSON bytes, units (seconds, never milliseconds), and the node-resque bugs taskcore does *not*
copy (section 9). Runs on every driver declaring ``Capabilities.resque_wire_format``; such a
driver exposes its redis-py client as ``backend.client`` so the keys can be read raw.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance_tests import drivers
from conformance_tests.drivers import DriverSpec
from conformance_tests.fixtures import BackendFactory
from conformance_tests.helpers import NOW, failure_for, job, worker
from taskcore.backend import Backend, CurrentJob, DelayedJob, Outcome, WorkerPing
from taskcore.codec import encode_current_job, encode_failure, encode_ping, js_date


@pytest.fixture(params=drivers.pytest_params(requires="resque_wire_format"))
def driver(request: pytest.FixtureRequest) -> DriverSpec:
    """Only the drivers declaring ``resque_wire_format``: the others are not collected."""
    spec: DriverSpec = request.param
    return spec


__all__ = ["WireRedisContract"]

T = int(NOW)
ADD = '{"class":"add","queue":"math","args":[1,2]}'


def _text(value: Any) -> Any:
    """redis-py answers in bytes or str depending on the client; compare as str."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    if isinstance(value, set):
        return {_text(v) for v in value}
    return value


class Raw:
    """Raw reads and writes on the backend's own client, keys named without the namespace."""

    def __init__(self, backend: Backend) -> None:
        client = getattr(backend, "client", None)
        assert client is not None, "a resque-wire-format driver exposes its client as .client"
        self.client = client
        self.ns = backend.namespace

    def key(self, rest: str) -> str:
        return f"{self.ns}:{rest}"

    async def keys(self) -> set[str]:
        """Every key of the namespace, without the namespace prefix."""
        found = {_text(k) async for k in self.client.scan_iter(match=f"{self.ns}:*", count=1000)}
        return {k[len(self.ns) + 1 :] for k in found}

    async def get(self, rest: str) -> str | None:
        value: str | None = _text(await self.client.get(self.key(rest)))
        return value

    async def lrange(self, rest: str) -> list[str]:
        values: list[str] = _text(await self.client.lrange(self.key(rest), 0, -1))
        return values

    async def smembers(self, rest: str) -> set[str]:
        values: set[str] = _text(await self.client.smembers(self.key(rest)))
        return values

    async def ttl(self, rest: str) -> int:
        return int(await self.client.ttl(self.key(rest)))


@pytest.fixture
def raw(backend: Backend) -> Raw:
    return Raw(backend)


class WireRedisContract:
    """Raw-key facts of the resque layout."""

    # ------------------------------------------------------------------ queues

    async def test_push_writes_the_job_bytes_and_the_queues_set(
        self, backend: Backend, raw: Raw
    ) -> None:
        await backend.push("math", ADD)
        await backend.push("math", job(9), front=True)
        assert await raw.lrange("queue:math") == [job(9), ADD]
        assert await raw.smembers("queues") == {"math"}
        assert await raw.keys() == {"queue:math", "queues"}

    async def test_queues_with_jobs_sees_foreign_pushes_and_skips_keys_that_are_not_lists(
        self, backend: Backend, raw: Raw
    ) -> None:
        # node-resque's enqueue: SADD queues + RPUSH, no taskcore script involved.
        await raw.client.sadd(raw.key("queues"), "from-node", "not-a-list", "emptied")
        await raw.client.rpush(raw.key("queue:from-node"), ADD)
        await raw.client.set(raw.key("queue:not-a-list"), "a hand-written string")
        # A blank name's key skips the blank part, as node-resque names it: "<ns>:queue".
        await raw.client.sadd(raw.key("queues"), " ")
        await raw.client.rpush(raw.key("queue"), ADD)
        assert await backend.queues_with_jobs() == [" ", "from-node"]
        assert await backend.queue_length(" ") == 1

    async def test_delete_queue_removes_list_and_set_member(
        self, backend: Backend, raw: Raw
    ) -> None:
        await backend.push("math", ADD)
        await backend.push("other", ADD)
        assert await backend.delete_queue("math") == 1
        assert await raw.keys() == {"queue:other", "queues"}
        assert await raw.smembers("queues") == {"other"}

    async def test_jobs_enqueued_raw_by_node_resque_are_reserved(
        self, backend: Backend, raw: Raw
    ) -> None:
        # node-resque's enqueue: MULTI; SADD queues q; RPUSH queue:q <json>; EXEC
        await raw.client.sadd(raw.key("queues"), "math")
        await raw.client.rpush(raw.key("queue:math"), ADD)
        reserved = await backend.reserve(["math"], worker(), NOW)
        assert reserved is not None and reserved.payload == ADD

    # ------------------------------------------------------------------ workers

    async def test_register_writes_set_member_started_seconds_and_ping(
        self, backend: Backend, raw: Raw
    ) -> None:
        w = worker("host:1", "math", "other")
        await backend.register_worker(w, NOW + 0.5)
        assert await raw.smembers("workers") == {"host:1:math,other"}
        assert await raw.get("worker:host:1:math,other:started") == str(T + 1)
        assert await raw.get("worker:ping:host:1") == (
            f'{{"time":{T + 1},"name":"host:1","queues":"math,other"}}'
        )
        await backend.ping_worker(w, NOW + 30)
        assert await raw.get("worker:ping:host:1") == encode_ping(T + 30, "host:1", "math,other")

    async def test_reserve_writes_the_current_job_with_the_payload_raw(
        self, backend: Backend, raw: Raw
    ) -> None:
        # cjson would write "args":{} and escape "/": the payload must keep its bytes.
        payload = '{"class":"a/b","queue":"math","args":[[],{},"é"]}'
        await backend.push("math", payload)
        w = worker("host:1", "other", "math")
        reserved = await backend.reserve(["other", "math"], w, NOW)
        assert reserved is not None and reserved.queue == "math"
        record = await raw.get("worker:host:1:other,math")
        assert record == (
            f'{{"run_at":"{js_date(NOW)}","queue":"math","worker":"host:1","payload":{payload}}}'
        )
        assert record == encode_current_job(js_date(NOW), "math", "host:1", payload)
        assert await raw.lrange("queue:math") == []

    async def test_reserve_of_empty_queues_writes_no_job(self, backend: Backend, raw: Raw) -> None:
        await backend.register_worker(worker(), NOW)
        before = await raw.keys()
        assert await backend.reserve(["math"], worker(), NOW + 5) is None
        assert (
            await raw.keys()
            == before
            == {
                "workers",
                "worker:host:1:math:started",
                "worker:ping:host:1",
            }
        )
        assert await raw.get("worker:ping:host:1") == encode_ping(T, "host:1", "math")

    async def test_current_job_written_by_node_resque_lua_is_read(
        self, backend: Backend, raw: Raw
    ) -> None:
        # node-resque's popAndStoreJob.lua re-encodes with cjson: hash key order, args {} .
        w = worker("host:123", "math")
        await raw.client.sadd(raw.key("workers"), "host:123:math")
        await raw.client.set(
            raw.key("worker:host:123:math"),
            '{"run_at":"Mon Nov 23 2026 06:18:16 GMT+0000 (Coordinated Universal Time)",'
            '"worker":"host:123","payload":{"class":"add","args":{},"queue":"math"},'
            '"queue":"math"}',
        )
        current = await backend.current_job(w)
        assert current is not None
        assert current.payload == '{"class":"add","queue":"math","args":[]}'
        assert current.queue == "math"
        assert list(await backend.current_jobs()) == [w]

    # ------------------------------------------------------------------ outcomes and stats

    async def test_success_counts_and_deletes_the_current_job(
        self, backend: Backend, raw: Raw
    ) -> None:
        w = worker("host:1")
        await backend.push("math", ADD)
        await backend.reserve(["math"], w, NOW)
        await backend.complete(w, Outcome.success())
        assert await raw.get("stat:processed") == "1"
        assert await raw.get("stat:processed:host:1") == "1"
        assert await raw.get("worker:host:1:math") is None
        assert await raw.get("stat:failed") is None

    async def test_failure_appends_the_record_bytes_and_counts(
        self, backend: Backend, raw: Raw
    ) -> None:
        w = worker("host:1")
        await backend.push("math", ADD)
        await backend.push("math", job(2))
        await backend.reserve(["math"], w, NOW)
        record = encode_failure(
            worker="host:1",
            queue="math",
            payload=ADD,
            exception="Error",
            error="kaboom",
            backtrace=["    at perform"],
            failed_at=js_date(NOW),
        )
        assert record.startswith('{"worker":"host:1","queue":"math","payload":{"class":"add"')
        reserved = await backend.complete_and_reserve(w, Outcome.failure(record), ["math"], NOW)
        assert reserved is not None and reserved.payload == job(2)
        assert await raw.lrange("failed") == [record]
        assert await raw.get("stat:failed") == "1"
        assert await raw.get("stat:failed:host:1") == "1"
        assert await raw.get("stat:processed") is None
        assert await raw.get("worker:host:1:math") == encode_current_job(
            js_date(NOW), "math", "host:1", job(2)
        )

    async def test_stats_read_node_resque_counters_without_prefix(
        self, backend: Backend, raw: Raw
    ) -> None:
        await raw.client.set(raw.key("stat:processed"), "5")
        await raw.client.set(raw.key("stat:failed:host:9"), "2")
        await backend.increment_stats({"processed": 2, "failed": 1})
        assert await raw.get("stat:processed") == "7"
        assert await backend.stats() == {"processed": 7, "failed": 1, "failed:host:9": 2}

    # ------------------------------------------------------------------ cleaning workers

    async def test_clean_worker_deletes_every_key_including_the_real_status_key(
        self, backend: Backend, raw: Raw
    ) -> None:
        w = worker("host:1")
        await backend.register_worker(w, NOW)
        await backend.push("math", ADD)
        await backend.reserve(["math"], w, NOW)
        await backend.increment_stats({"processed:host:1": 3, "failed:host:1": 1})
        cleaned = await backend.clean_worker("host:1", failure_for)
        assert [c.payload for c in cleaned] == [ADD]
        # node-resque deletes worker:<name> and leaves worker:<name>:<queues> behind.
        assert await raw.keys() == {"failed", "stat:failed", "queues"}
        assert await raw.get("stat:failed") == "1"
        (record,) = await raw.lrange("failed")
        assert record == failure_for(cleaned[0])

    async def test_clean_idle_worker_does_not_count_a_failure(
        self, backend: Backend, raw: Raw
    ) -> None:
        await backend.register_worker(worker("host:1"), NOW)
        assert await backend.clean_worker("host:1", failure_for) == []
        # node-resque always INCRs stat:failed here (spec section 9, bug 2).
        assert await raw.keys() == set()

    # ------------------------------------------------------------------ delayed jobs

    async def test_schedule_writes_list_zset_and_timestamps_set(
        self, backend: Backend, raw: Raw
    ) -> None:
        assert await backend.schedule(T, "math", ADD) is True
        assert await backend.schedule(T, "math", ADD) is False
        assert await raw.lrange(f"delayed:{T}") == [ADD]
        schedule = await raw.client.zrange(
            raw.key("delayed_queue_schedule"), 0, -1, withscores=True
        )
        assert [(_text(m), s) for m, s in schedule] == [(str(T), float(T))]
        assert await raw.smembers(f"timestamps:{ADD}") == {f"delayed:{T}"}
        assert await raw.keys() == {
            f"delayed:{T}",
            "delayed_queue_schedule",
            f"timestamps:{ADD}",
        }

    async def test_timestamps_are_in_numeric_order(self, backend: Backend) -> None:
        # node-resque's timestamps() sorts "10" before "9".
        for ts in (1_000_000_000, 999_999_999, 10_000_000_000):
            await backend.schedule(ts, "math", ADD)
        assert await backend.delayed_timestamps() == [999_999_999, 1_000_000_000, 10_000_000_000]

    async def test_promotion_leaves_no_delayed_keys(self, backend: Backend, raw: Raw) -> None:
        await backend.schedule(T, "math", ADD)
        await backend.schedule(T + 1, "math", ADD)
        moved = await backend.promote_due(NOW + 1.5)  # T + 1 is due from T + 1.5 on
        assert [(m.timestamp, m.queue, m.payload) for m in moved] == [
            (T, "math", ADD),
            (T + 1, "math", ADD),
        ]
        assert await raw.keys() == {"queue:math", "queues"}
        assert await raw.lrange("queue:math") == [ADD, ADD]

    async def test_delayed_jobs_scheduled_raw_by_node_resque_are_promoted(
        self, backend: Backend, raw: Raw
    ) -> None:
        # node-resque's enqueueAt, then a zset member left over with no list (its delDelayed).
        member = f"delayed:{T}"
        await raw.client.rpush(raw.key(member), ADD)
        await raw.client.sadd(raw.key(f"timestamps:{ADD}"), member)
        await raw.client.zadd(raw.key("delayed_queue_schedule"), {str(T): T, str(T - 5): T - 5})
        assert await backend.delayed_timestamps() == [T]
        assert await backend.scheduled_at(ADD) == [T]
        moved = await backend.promote_due(NOW + 1)
        assert [m.payload for m in moved] == [ADD]
        assert await raw.keys() == {"queue:math", "queues"}

    async def test_remove_delayed_leaves_no_empty_list_or_zset_member(
        self, backend: Backend, raw: Raw
    ) -> None:
        await backend.schedule(T, "math", ADD)
        await backend.schedule(T + 7, "math", ADD)
        await backend.schedule(T + 7, "math", job(5))
        assert await backend.remove_delayed(ADD) == [T, T + 7]
        assert await raw.keys() == {
            f"delayed:{T + 7}",
            "delayed_queue_schedule",
            f"timestamps:{job(5)}",
        }
        assert _text(await raw.client.zrange(raw.key("delayed_queue_schedule"), 0, -1)) == [
            str(T + 7)
        ]

    async def test_unroutable_delayed_entry_stays_in_place_and_does_not_block(
        self, backend: Backend, raw: Raw
    ) -> None:
        # An entry without a "queue" cannot be promoted: it stays, the others move, the call
        # returns (no endless loop), and later calls neither move nor lose it.
        no_queue = '{"class":"add","args":[]}'
        await backend.schedule(T, "math", no_queue)
        await backend.schedule(T, "math", ADD)
        await backend.schedule(T + 1, "math", job(2))
        moved = await backend.promote_due(NOW + 1.5)
        assert [m.payload for m in moved] == [ADD, job(2)]
        assert await raw.lrange(f"delayed:{T}") == [no_queue]
        assert await backend.promote_due(NOW + 1.5) == []
        assert await backend.delayed_timestamps() == [T]
        assert await backend.remove_delayed(no_queue) == [T]
        assert await raw.keys() == {"queue:math", "queues"}

    # ------------------------------------------------------------------ hostile records
    # Any client can write any bytes to any key: one bad record must neither raise from a
    # read nor stop recovery or promotion of the others.

    @pytest.mark.parametrize(
        "record",
        ["garbage {", '["host:1","math"]', '{"worker":"host:1"}', '{"payload":5}', "["],
        ids=["not_json", "array", "no_payload", "payload_not_an_object", "truncated"],
    )
    async def test_a_current_job_record_in_no_known_layout_is_failed_whole(
        self, backend: Backend, raw: Raw, record: str
    ) -> None:
        w = worker("host:1")
        await backend.register_worker(w, NOW)
        await raw.client.set(raw.key("worker:host:1:math"), record)
        expected = CurrentJob(w, "", record, "", record)
        assert await backend.current_job(w) == expected
        assert await backend.current_jobs() == {w: expected}
        assert await backend.clean_worker("host:1", failure_for) == [expected]
        assert await raw.lrange("failed") == [failure_for(expected)]
        assert await raw.keys() == {"failed", "stat:failed"}

    async def test_a_current_job_key_of_another_type_reads_as_idle(
        self, backend: Backend, raw: Raw
    ) -> None:
        w = worker("host:1")
        await backend.register_worker(w, NOW)
        await raw.client.rpush(raw.key("worker:host:1:math"), "not a string key")
        assert await backend.current_job(w) is None
        assert await backend.current_jobs() == {w: None}
        assert await backend.clean_worker("host:1", failure_for) == []
        assert await raw.keys() == set()

    async def test_a_ping_that_cannot_be_read_is_stale_at_time_zero(
        self, backend: Backend, raw: Raw
    ) -> None:
        await backend.register_worker(worker("good:1"), NOW)
        for name, value in [
            ("garbage:1", "garbage"),
            ("no_time:1", '{"name":"no_time:1","queues":"math"}'),
            ("text_time:1", '{"time":"soon","name":"text_time:1","queues":"math"}'),
            ("huge_time:1", '{"time":1e400,"name":"huge_time:1","queues":"math"}'),
        ]:
            await raw.client.set(raw.key(f"worker:ping:{name}"), value)
        # The key names the worker (it is the key clean_worker deletes), not the record.
        await raw.client.set(
            raw.key("worker:ping:renamed:1"), encode_ping(T, "someone:else", "math")
        )
        pings = await backend.worker_pings()
        assert pings == [
            WorkerPing("garbage:1", "", 0),
            WorkerPing("good:1", "math", T),
            WorkerPing("huge_time:1", "", 0),
            WorkerPing("no_time:1", "", 0),
            WorkerPing("renamed:1", "math", T),
            WorkerPing("text_time:1", "", 0),
        ]
        stale = [p.name for p in await backend.stale_workers(NOW, 60)]
        assert stale == ["garbage:1", "huge_time:1", "no_time:1", "text_time:1"]
        for name in stale:
            await backend.clean_worker(name, failure_for)
        assert [p.name for p in await backend.worker_pings()] == ["good:1", "renamed:1"]

    async def test_counters_and_started_times_that_are_not_integers_are_left_out(
        self, backend: Backend, raw: Raw
    ) -> None:
        w = worker("host:1")
        await backend.register_worker(w, NOW)
        for name, value in [("processed", "many"), ("failed", "2"), ("odd", "1.5"), ("e", "")]:
            await raw.client.set(raw.key(f"stat:{name}"), value)
        assert await backend.stats() == {"failed": 2}
        await raw.client.set(raw.key("worker:host:1:math:started"), "yesterday")
        assert await backend.worker_started(w) is None

    async def test_a_counter_that_is_not_an_integer_does_not_stop_the_worker(
        self, backend: Backend, raw: Raw
    ) -> None:
        w = worker("host:1")
        await raw.client.set(raw.key("stat:processed"), "many")
        await backend.push("math", ADD)
        await backend.push("math", job(2))
        await backend.reserve(["math"], w, NOW)
        reserved = await backend.complete_and_reserve(w, Outcome.success(), ["math"], NOW)
        assert reserved is not None and reserved.payload == job(2)
        await backend.complete(w, Outcome.success())
        assert await raw.get("stat:processed") == "many"
        assert await backend.stats() == {"processed:host:1": 2}
        assert await backend.current_job(w) is None

    async def test_hostile_schedule_entries_never_stop_promotion(
        self, backend: Backend, raw: Raw
    ) -> None:
        schedule = raw.key("delayed_queue_schedule")
        await raw.client.zadd(schedule, {"soon": T - 30, "12.5": T - 20, str(T - 10): T - 10})
        await raw.client.set(raw.key(f"delayed:{T - 10}"), "a string, not a list")
        await raw.client.set(raw.key("queue:blocked"), "a string, not a list")
        await raw.client.sadd(raw.key(f"timestamps:{ADD}"), "delayed:soon", "nonsense")
        await backend.schedule(T, "blocked", job(1, "blocked"))
        await backend.schedule(T, "math", ADD)
        await backend.schedule(T + 1, "math", job(2))
        assert await backend.delayed_timestamps() == [T, T + 1]
        assert await backend.scheduled_at(ADD) == [T]
        moved = await backend.promote_due(NOW + 1.5)
        assert moved == [DelayedJob(T, "math", ADD), DelayedJob(T + 1, "math", job(2))]
        assert await backend.promote_due(NOW + 1.5) == []
        # Everything it could not move is still there, untouched.
        assert await raw.lrange(f"delayed:{T}") == [job(1, "blocked")]
        assert await raw.get(f"delayed:{T - 10}") == "a string, not a list"
        assert await raw.get("queue:blocked") == "a string, not a list"
        assert set(_text(await raw.client.zrange(schedule, 0, -1))) == {
            "soon",
            "12.5",
            str(T - 10),
            str(T),
        }
        assert await backend.delayed_timestamps() == [T]

    # ------------------------------------------------------------------ locks

    async def test_lock_keys_values_and_ttls(self, backend: Backend, raw: Raw) -> None:
        assert await backend.acquire_lock("lock:add:math:[1,2]", str(T + 3601), 3600)
        assert await backend.acquire_lock("resque_scheduler_leader_lock", "host:1", 180)
        assert await raw.get("lock:add:math:[1,2]") == str(T + 3601)
        assert 3598 <= await raw.ttl("lock:add:math:[1,2]") <= 3600
        assert await raw.get("resque_scheduler_leader_lock") == "host:1"
        assert 178 <= await raw.ttl("resque_scheduler_leader_lock") <= 180

    async def test_retry_counter_starts_at_zero_with_a_ttl(
        self, backend: Backend, raw: Raw
    ) -> None:
        assert await backend.increment_lock("resque-retry:brokenJob:1-2", 60) == 0
        assert await raw.get("resque-retry:brokenJob:1-2") == "0"
        assert 58 <= await raw.ttl("resque-retry:brokenJob:1-2") <= 60

    async def test_list_locks_reads_locks_written_by_node_resque(
        self, backend: Backend, raw: Raw
    ) -> None:
        await raw.client.set(raw.key("lock:f:q:[]"), "123", ex=60)
        await raw.client.set(raw.key("workerslock:f:q:[]"), "456", ex=60)
        assert await backend.list_locks("lock:") == {"lock:f:q:[]": "123"}
        assert await backend.list_locks("workerslock:") == {"workerslock:f:q:[]": "456"}

    # ------------------------------------------------------------------ namespaces

    async def test_flush_leaves_other_namespaces_alone(
        self, backend: Backend, backend_factory: BackendFactory, raw: Raw
    ) -> None:
        # "<ns>x" shares the prefix but not "<ns>:"; "<ns>[x]*" has glob characters.
        neighbours = [
            await backend_factory(namespace=backend.namespace + "x"),
            await backend_factory(namespace=backend.namespace + "[x]*"),
        ]
        for b in (backend, *neighbours):
            await b.push("math", ADD)
            await b.schedule(T, "math", ADD)
        await neighbours[1].flush()
        assert await neighbours[1].queue_length("math") == 0
        await backend.flush()
        assert await raw.keys() == set()
        assert await neighbours[0].queue_length("math") == 1
        assert await neighbours[0].delayed_timestamps() == [T]
        assert len(await Raw(neighbours[0]).keys()) == 5


@pytest.mark.requires_capability("resque_wire_format")
class TestWireRedis(WireRedisContract):
    pass
