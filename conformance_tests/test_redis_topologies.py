"""Redis topologies on real servers: URL forms, the Cluster's one-slot rule and wake-ups, node
loss on a Cluster, and jobs drained across a Sentinel failover.

The whole contract suite also runs on the ``redis_cluster`` row of the driver table; this
module covers what is specific to a topology. Servers come from
:func:`conformance_tests.servers.redis_cluster_url` and
:func:`~conformance_tests.servers.redis_sentinel_url` (started from ``redis-server`` when no
``TASKCORE_TEST_REDIS_*_URL`` is set).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from conformance_tests import servers
from conformance_tests.drivers import REDIS_SENTINEL
from conformance_tests.engine_support import WAIT
from conformance_tests.failover import JOB, Drain, report, running_workers
from conformance_tests.helpers import NOW, job, worker
from conformance_tests.outage import redis_cluster_nodes
from taskcore import codec, connect
from taskcore.errors import BackendUnavailable, ConfigError
from taskcore_redis.cluster import RedisClusterBackend
from taskcore_redis.sentinel import RedisSentinelBackend
from taskcore_redis.topology import parse_cluster_url, parse_sentinel_url


def _tagged() -> str:
    return "{taskcore-topo-" + uuid.uuid4().hex[:12] + "}"


@pytest_asyncio.fixture
async def cluster() -> AsyncIterator[RedisClusterBackend]:
    backend = connect(servers.redis_cluster_url(), namespace=_tagged())
    assert isinstance(backend, RedisClusterBackend)
    async with backend:
        try:
            yield backend
        finally:
            await backend.flush()


# ------------------------------------------------------------------ URL forms (no server)


@pytest.mark.parametrize("namespace", ["resque", "", "{}resque", "jobs{eu", "x}{y"])
def test_a_cluster_refuses_a_namespace_that_is_not_a_hash_tag(namespace: str) -> None:
    with pytest.raises(ConfigError, match=r"hash tag, e\.g\. '\{") as refused:
        connect("redis+cluster://127.0.0.1:7000", namespace=namespace)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("namespace", ["{resque}", "jobs{eu}", "{a}:b"])
def test_a_cluster_accepts_a_hash_tagged_namespace(namespace: str) -> None:
    backend = connect("redis+cluster://127.0.0.1:7000", namespace=namespace)
    assert isinstance(backend, RedisClusterBackend) and backend.namespace == namespace


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("redis+cluster://", "names no host"),
        ("redis+cluster://h:1,:2", "empty host"),
        ("redis+cluster://h:70000", "out of range"),
        ("redis+cluster://h:1/3", "database 0 only"),
        ("redis+cluster://h:1?pubsub=maybe", "?pubsub="),
        ("redis+cluster://h:1?socket_timeout=-1", "positive number of seconds"),
        ("redis+cluster://h:1?colour=red", "unknown option ?colour="),
        ("redis+sentinel://h:26379", "names no service"),
        ("redis+sentinel://h:26379/svc/x", "is not a number"),
        ("redis+sentinel://h:26379/svc/0/1", "too many parts"),
    ],
)
def test_malformed_topology_urls_are_refused_naming_the_part(url: str, needle: str) -> None:
    with pytest.raises(ConfigError) as refused:
        connect(url, namespace="{resque}")
    assert needle in str(refused.value)


def test_topology_urls_read_hosts_defaults_and_credentials_without_leaking_them() -> None:
    target = parse_cluster_url("redis+cluster://u:s3cret@a:7000,b,[::1]:7002?socket_timeout=2")
    assert target.nodes == (("a", 7000), ("b", 6379), ("::1", 7002))
    assert (target.username, target.password) == ("u", "s3cret")
    assert target.options == {"socket_timeout": 2.0}
    sentinel = parse_sentinel_url("redis+sentinel://:pw@s1,s2:26380/mymaster/2")
    assert sentinel.nodes == (("s1", 26379), ("s2", 26380))
    assert (sentinel.service, sentinel.db, sentinel.password) == ("mymaster", 2, "pw")
    backend = connect("redis+sentinel://:pw@s1,s2:26380/mymaster/2", namespace="resque")
    assert "pw" not in repr(backend) and "pw" not in backend.server


# ------------------------------------------------------------------ Redis Cluster


@pytest.mark.redis_cluster
@pytest.mark.asyncio
async def test_every_key_of_a_namespace_lives_in_the_slot_of_its_hash_tag(
    cluster: RedisClusterBackend,
) -> None:
    w = worker()
    await cluster.push("math", job(1))
    await cluster.push("math", job(2))
    await cluster.schedule(int(NOW) + 60, "math", job(3))
    await cluster.register_worker(w, NOW)
    await cluster.reserve(["math"], w, NOW)
    await cluster.increment_stats({"processed": 1})
    await cluster.acquire_lock("lock:x", "me", 60)
    keys: list[str] = []
    for node in cluster.cluster.get_primaries():
        async for key in cluster.cluster.scan_iter(match=cluster.keys.pattern(), target_nodes=node):
            keys.append(key)
    assert len(keys) >= 8
    slots = {cluster.cluster.keyslot(key) for key in keys}
    assert slots == {cluster.cluster.keyslot(cluster.keys.pushed_channel)}
    assert await cluster.stats() == {"processed": 1}
    await cluster.flush()
    assert await cluster.list_queues() == [] and await cluster.stats() == {}


@pytest.mark.parametrize("mode", ["auto", "sharded", "classic"])
@pytest.mark.redis_cluster
@pytest.mark.asyncio
async def test_a_push_on_a_cluster_wakes_a_watcher_on_another_client(mode: str) -> None:
    namespace = _tagged()
    url = servers.redis_cluster_url()
    # Every process of a namespace must use the same mode: SUBSCRIBE does not hear SPUBLISH.
    async with (
        connect(url, namespace=namespace, pubsub=mode) as watcher_side,
        connect(url, namespace=namespace, pubsub=mode) as pusher,
    ):
        assert isinstance(watcher_side, RedisClusterBackend)
        wakeup = await watcher_side.wake_up(["math"])
        # Redis 7 has sharded pub/sub: "auto" picks it; "classic" is the fallback.
        assert watcher_side.sharded_pubsub is (mode != "classic")
        wakeup.arm()
        await pusher.push("math", job(1))
        assert await wakeup.wait(WAIT), "the push did not wake the watcher"
        wakeup.arm()
        await pusher.promote_due(NOW)  # nothing due: no notification
        assert not await wakeup.wait(0.2)
        await wakeup.aclose()
        await pusher.flush()


@pytest.mark.redis_cluster
@pytest.mark.asyncio
async def test_cluster_nodes_going_away_raise_backend_unavailable_then_work_again() -> None:
    # Every node behind its own proxy (the client is told to reach node N through proxy N), so
    # cutting the proxies cuts the whole cluster, as when its machines go away.
    async with redis_cluster_nodes(servers.redis_cluster_url()) as storage:
        assert len(storage.proxies) == 3
        backend = storage.connect(_tagged())
        try:
            await backend.open()
            await backend.push("math", job(1))
            storage.cut()
            with pytest.raises(BackendUnavailable) as cut:
                await backend.push("math", job(2))
            assert "redis+cluster://" in str(cut.value) and cut.value.__cause__ is not None
            await storage.restore()
            await backend.push("math", job(3))
            assert await backend.queue_range("math", 0, -1) == [job(1), job(3)]
            await backend.flush()
        finally:
            await backend.aclose()


# ------------------------------------------------------------------ Redis Sentinel


async def _primary(sentinel_port: int) -> tuple[str, int]:
    async with Redis(port=sentinel_port, decode_responses=True) as sentinel:
        host, port = await sentinel.execute_command(
            "SENTINEL", "GET-MASTER-ADDR-BY-NAME", servers.SENTINEL_SERVICE
        )
    return str(host), int(port)


async def _replica_online(sentinel_port: int) -> bool:
    """True once the primary has a replica streaming from it (after a failover the old
    primary first resyncs as a replica)."""
    host, port = await _primary(sentinel_port)
    async with Redis(host=host, port=port, decode_responses=True) as primary:
        info = await primary.info("replication")
    replica = info.get("slave0")
    return isinstance(replica, dict) and replica.get("state") == "online"


async def _until(predicate: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)  # an external process (Sentinel) decides: no event to await


@pytest.mark.redis_sentinel
@pytest.mark.parametrize("run", [1, 2])
@pytest.mark.asyncio
async def test_workers_draining_across_a_sentinel_failover_lose_no_job(
    run: int, record_property: Callable[[str, object], None]
) -> None:
    url = REDIS_SENTINEL.url()
    sentinel_port = parse_sentinel_url(url).nodes[0][1]
    namespace = f"taskcore-failover-{uuid.uuid4().hex[:12]}"
    drain = Drain(300)
    await _until(lambda: _replica_online(sentinel_port), 60, "the replica to be in sync")
    async with connect(url, namespace=namespace, socket_timeout=10) as admin:
        assert isinstance(admin, RedisSentinelBackend)
        for i in range(drain.total):
            await admin.push("q", codec.encode_job(JOB, "q", [i]))
        # Replication is asynchronous: make sure the replica holds the jobs before the switch,
        # so this measures the driver and workers, not the replication window.
        assert await admin.client.execute_command("WAIT", 1, 5000) >= 1
        before = await _primary(sentinel_port)
        backends = [connect(url, namespace=namespace, socket_timeout=2) for _ in range(3)]
        async with running_workers(backends, drain, lambda n: ["q"]) as logs:
            await asyncio.wait_for(drain.quarter.wait(), 30)
            async with Redis(port=sentinel_port, decode_responses=True) as sentinel:
                await sentinel.execute_command("SENTINEL", "FAILOVER", servers.SENTINEL_SERVICE)

            async def switched() -> bool:
                return await _primary(sentinel_port) != before

            await _until(switched, 30, "Sentinel to name a new primary")
            left_at_switch = drain.left
            await drain.until_done(60)
        report(f"failover run {run}", drain, logs, left_at_switch, record_property)
        assert left_at_switch > 0, "the failover must land mid-drain to prove anything"
        assert await admin.queue_length("q") == 0
        assert await admin.failure_count() == 0
        await admin.flush()
