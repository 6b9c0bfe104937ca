"""``redis+cluster://`` URLs: :class:`RedisClusterBackend`, the Redis driver on a Redis Cluster.

One key layout and one set of scripts with the single-server driver. What makes them run on a
cluster:

* **One slot per namespace.** The namespace must be a hash tag (``{resque}``), so every key
  ``{resque}:...`` hashes to one slot and each script, which touches several keys of the
  namespace (some built inside the script from the key prefix), runs on one node. A namespace
  that is not one is refused with a :class:`~taskcore.errors.ConfigError`. Each script declares
  at least one key of the namespace, which is how the client routes it.
* **Scans** (stats, worker pings, locks, flush) read the one node that holds the namespace's
  slot, not every node.
* **Wake-ups** use sharded pub/sub (``SPUBLISH``/``SSUBSCRIBE``, Redis >= 7) on the channel
  ``{ns}:taskcore:pushed``, which lives in the namespace's slot: a push notifies through one
  node. ``pubsub="classic"`` (or a server without ``SPUBLISH``, detected on first use with
  ``pubsub="auto"``) falls back to ``PUBLISH``/``SUBSCRIBE``, which the cluster relays to every
  node.

node-resque 9 cannot run on a cluster (its scripts and MULTIs span slots), so cross-language
interop needs a single Redis or Sentinel; the layout is the same when both use the same prefix.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar, cast

from redis import exceptions as redis_errors
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode

from taskcore.backend import Capabilities, WakeUp
from taskcore.errors import BackendUnavailable, ConfigError
from taskcore_redis.access import SCAN_COUNT
from taskcore_redis.backend import RedisBackend
from taskcore_redis.errors import translate_errors
from taskcore_redis.topology import parse_cluster_url, require_hash_tag
from taskcore_redis.wakeup import PushListener

__all__ = ["RedisClusterBackend", "from_url"]


class RedisClusterBackend(RedisBackend):
    """The Redis driver on a Redis Cluster (``redis.asyncio.RedisCluster``).

    ``namespace`` must be a hash tag (:func:`~taskcore_redis.topology.require_hash_tag`).
    ``pubsub`` is ``"auto"`` (sharded when the server knows ``SPUBLISH``), ``"sharded"`` or
    ``"classic"``. The backend closes ``client`` on :meth:`aclose` when ``owns_client``.
    :attr:`server` is ``description``: the seed nodes as ``redis+cluster://host:port,...``.
    """

    capabilities: ClassVar[Capabilities] = RedisBackend.capabilities

    def __init__(
        self,
        client: RedisCluster,
        *,
        namespace: str = "{resque}",
        owns_client: bool = False,
        pubsub: str = "auto",
        description: str = "redis+cluster://",
    ) -> None:
        require_hash_tag(namespace)
        if pubsub not in ("auto", "sharded", "classic"):
            raise ConfigError(f"pubsub={pubsub!r} is not one of 'auto', 'sharded', 'classic'")
        # RedisCluster offers every command, pipeline and script call the driver makes with the
        # same signatures as Redis; redis-py's types do not relate the two classes.
        super().__init__(
            cast(Redis, client),
            namespace=namespace,
            owns_client=owns_client,
            description=description,
        )
        self._cluster = client
        self._pubsub_mode = pubsub
        self._sharded: bool | None = {"auto": None, "sharded": True, "classic": False}[pubsub]
        self._listener = PushListener(
            client, self._keys.pushed_channel, sharded=bool(self._sharded)
        )

    @property
    def cluster(self) -> RedisCluster:
        """The redis-py cluster client (read-only)."""
        return self._cluster

    @translate_errors
    async def open(self) -> None:
        """Connect to a seed node, read the slot map, and check the namespace's slot is served
        (the nodes PING). Decides sharded pub/sub when ``pubsub="auto"``."""
        await self._init_cluster()
        await self._publish_command()
        await self._client.ping()

    async def _init_cluster(self) -> None:
        try:
            await self._cluster.initialize()
        except redis_errors.RedisClusterException as exc:
            # redis-py raises this (not a RedisError) when no seed node answers.
            raise BackendUnavailable(
                f"cannot reach the Redis Cluster at {self.server} ({exc}); check that the "
                "nodes run and the URL lists at least one of them, then retry"
            ) from exc

    async def _publish_command(self) -> str:
        if self._sharded is None:
            await self._init_cluster()
            node = self._namespace_node()
            reply = await self._cluster.execute_command(
                "COMMAND", "INFO", "SPUBLISH", target_nodes=node
            )
            self._sharded = bool(reply) and any(bool(entry) for entry in _values(reply))
            self._listener.sharded = self._sharded
        return "SPUBLISH" if self._sharded else "PUBLISH"

    @property
    def sharded_pubsub(self) -> bool | None:
        """True when wake-ups use sharded pub/sub; None until decided (``pubsub="auto"``)."""
        return self._sharded

    @translate_errors
    async def wake_up(self, queues: Any) -> WakeUp:
        await self._publish_command()
        return await self._listener.watch(queues)

    def _namespace_node(self) -> ClusterNode:
        """The primary serving the namespace's slot (the client must be initialized)."""
        node = self._cluster.get_node_from_key(self._keys.key("queues"))
        if node is None:
            raise redis_errors.ClusterDownError(
                f"no node of {self.server} serves the slot of namespace {self.namespace!r}"
            )
        return node

    async def _scan(self, start: str) -> AsyncIterator[str | bytes]:
        await self._init_cluster()
        node = self._namespace_node()
        cursor = 0
        while True:
            reply = await self._cluster.scan(
                cursor, match=self._keys.pattern(start), count=SCAN_COUNT, target_nodes=node
            )
            # A scan aimed at one node answers ({node name: cursor}, keys).
            cursors, keys = reply
            for key in keys:
                yield key
            cursor = int(next(iter(cursors.values()))) if isinstance(cursors, dict) else cursors
            if cursor == 0:
                return


def _values(reply: Any) -> list[Any]:
    """The entries of a ``COMMAND INFO`` reply whatever shape redis-py parsed it into."""
    if isinstance(reply, dict):
        return list(reply.values())
    return list(reply) if isinstance(reply, list | tuple) else [reply]


def from_url(url: str, *, namespace: str = "{resque}", **options: Any) -> RedisClusterBackend:
    """A backend owning a ``RedisCluster`` client for a ``redis+cluster://`` URL.

    ``options`` go to :class:`redis.asyncio.RedisCluster` (``decode_responses`` defaults to
    True and ``encoding_errors`` to ``"surrogateescape"``, as for ``redis://``), except
    ``pubsub`` (``auto``/``sharded``/``classic``, also a URL option). Nothing connects until
    :meth:`RedisClusterBackend.open` or the first call. A malformed URL or a namespace that is
    not a hash tag is a :class:`~taskcore.errors.ConfigError`.
    """
    target = parse_cluster_url(url)
    require_hash_tag(namespace)
    pubsub = str(options.pop("pubsub", target.options.get("pubsub", "auto")))
    nodes = [ClusterNode(host, port) for host, port in target.nodes]
    client_options = target.client_options(options)
    client_options.pop("pubsub", None)
    try:
        client = RedisCluster(startup_nodes=nodes, **client_options)
    except (TypeError, ValueError, redis_errors.RedisClusterException) as exc:
        raise ConfigError(f"invalid Redis Cluster options ({exc})") from exc
    return RedisClusterBackend(
        client,
        namespace=namespace,
        owns_client=True,
        pubsub=pubsub,
        description=target.describe("redis+cluster"),
    )
