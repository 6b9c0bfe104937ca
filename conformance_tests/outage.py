"""Storage behind TCP proxies, to cut a backend off its server(s) and bring them back.

A test that simulates an outage connects its backend through :class:`ProxiedStorage`: every
address the driver's client reaches sits behind its own :class:`~conformance_tests.helpers.
TcpProxy`, so :meth:`ProxiedStorage.cut` makes the whole storage go away for that backend (open
connections reset, new ones refused) while other backends of the test keep reaching it directly,
and :meth:`ProxiedStorage.restore` brings it back on the same addresses.

How to put a driver's storage behind proxies depends on its client, so each
:class:`~conformance_tests.drivers.DriverSpec` names a :data:`Proxying` function:

* :func:`single_server` -- the URL's one ``host:port`` (Redis, Sentinel-less PostgreSQL, and
  any third-party driver whose URL names the one server its client talks to);
* :func:`redis_cluster_nodes` -- a Redis Cluster: the client follows the slot map to every node,
  so each primary gets a proxy and the client is told (redis-py's ``address_remap``) to reach
  node N through proxy N.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from conformance_tests.helpers import TcpProxy
from taskcore.backend import Backend
from taskcore.registry import connect

__all__ = ["ProxiedStorage", "Proxying", "redis_cluster_nodes", "single_server"]


@dataclass
class ProxiedStorage:
    """A storage reached only through ``proxies``: ``url`` and ``options`` connect to it."""

    url: str
    proxies: list[TcpProxy]
    options: dict[str, Any] = field(default_factory=dict)

    def connect(self, namespace: str) -> Backend:
        """An unopened backend in ``namespace`` whose every connection runs through a proxy."""
        return connect(self.url, namespace=namespace, **self.options)

    def cut(self) -> None:
        """Every server goes away: open connections are reset, new ones refused."""
        for proxy in self.proxies:
            proxy.stop()

    async def restore(self) -> None:
        """Every server comes back on the address the backend knows."""
        for proxy in self.proxies:
            await proxy.restart()


Proxying = Callable[[str], AbstractAsyncContextManager[ProxiedStorage]]
"""Given a driver's URL, an async context manager yielding that storage behind proxies (the
proxies are closed on exit)."""


def _replace_hosts(url: str, hosts: str) -> str:
    """``url`` with the ``host:port[,host:port...]`` part of its netloc replaced by ``hosts``;
    credentials, path and query are kept."""
    parts = urlsplit(url)
    userinfo, _, _ = parts.netloc.rpartition("@")
    netloc = f"{userinfo}@{hosts}" if userinfo else hosts
    return urlunsplit(parts._replace(netloc=netloc))


@contextlib.asynccontextmanager
async def _proxies(addresses: list[tuple[str, int]]) -> AsyncIterator[list[TcpProxy]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(TcpProxy(h, p)) for h, p in addresses]


@contextlib.asynccontextmanager
async def single_server(url: str) -> AsyncIterator[ProxiedStorage]:
    """One proxy in front of the one ``host:port`` that ``url`` names."""
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"{parts.scheme}:// URL names no host:port to put a proxy in front of")
    async with _proxies([(parts.hostname, parts.port)]) as proxies:
        yield ProxiedStorage(_replace_hosts(url, f"127.0.0.1:{proxies[0].port}"), proxies)


@contextlib.asynccontextmanager
async def redis_cluster_nodes(url: str) -> AsyncIterator[ProxiedStorage]:
    """Every primary of the Redis Cluster at ``url`` behind its own proxy.

    The nodes are read from the cluster's slot map; the yielded URL seeds the client with the
    first proxy, and ``address_remap`` turns each node's announced address into its proxy's,
    so the client (commands, scripts, scans and sharded pub/sub) reaches no node directly.
    Replicas are not proxied: the driver reads and writes primaries only.
    """
    from redis.asyncio import RedisCluster

    from taskcore_redis.topology import parse_cluster_url

    target = parse_cluster_url(url)
    host, port = target.nodes[0]
    async with RedisCluster(
        host=host, port=port, username=target.username, password=target.password
    ) as probe:
        nodes = [(node.host, int(node.port)) for node in probe.get_primaries()]
    async with _proxies(nodes) as proxies:
        via = {node: ("127.0.0.1", proxy.port) for node, proxy in zip(nodes, proxies, strict=True)}

        def remap(address: tuple[str, int]) -> tuple[str, int]:
            return via.get(address, address)

        yield ProxiedStorage(
            _replace_hosts(url, f"127.0.0.1:{proxies[0].port}"),
            proxies,
            {"address_remap": remap},
        )
