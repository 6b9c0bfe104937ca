"""``memory://`` URLs: a :class:`~taskcore_redis.RedisBackend` over ``fakeredis``.

``memory://`` is one process-wide default server and ``memory://<name>`` a separate named one;
backends opened with the same URL in one process share data, like clients of one real server.
fakeredis (with ``fakeredis[lua]``) runs the driver's Lua scripts, ``cjson`` included, and
delivers pub/sub between clients of one server, so enqueue notifications work too.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, ClassVar
from urllib.parse import urlsplit

import fakeredis

from taskcore.backend import Capabilities
from taskcore.errors import ConfigError
from taskcore_redis import RedisBackend
from taskcore_redis.access import with_text_defaults

__all__ = ["MemoryBackend", "from_url", "server_for"]

_SERVERS: dict[str, fakeredis.FakeServer] = {}
_SERVERS_LOCK = threading.Lock()


def server_for(name: str = "") -> fakeredis.FakeServer:
    """The process-wide fake server called ``name`` (``""``: the default), created on first use."""
    with _SERVERS_LOCK:
        server = _SERVERS.get(name)
        if server is None:
            server = _SERVERS[name] = fakeredis.FakeServer(version=(7,))
        return server


class MemoryBackend(RedisBackend):
    """The Redis driver over an in-process fakeredis server: its capabilities, except that it
    is not shared across processes."""

    capabilities: ClassVar[Capabilities] = dataclasses.replace(
        RedisBackend.capabilities, shared_across_processes=False
    )

    def __init__(self, client: Any, *, name: str = "", namespace: str = "resque") -> None:
        super().__init__(
            client, namespace=namespace, owns_client=True, description=f"memory://{name}"
        )


def _server_name(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme.lower() != "memory":
        raise ConfigError(f"not a memory:// URL: {url!r}; use memory:// or memory://<name>")
    return (parts.netloc + parts.path).strip("/")


def from_url(url: str = "memory://", *, namespace: str = "resque", **options: Any) -> MemoryBackend:
    """A backend on the in-process server named by ``url``; ``options`` go to
    ``fakeredis.FakeAsyncRedis`` (``decode_responses`` defaults to True, ``encoding_errors``
    to ``"surrogateescape"``: any bytes round-trip, as with :func:`taskcore_redis.from_url`)."""
    name = _server_name(url)
    client = fakeredis.FakeAsyncRedis(server=server_for(name), **with_text_defaults(options))
    return MemoryBackend(client, name=name, namespace=namespace)
