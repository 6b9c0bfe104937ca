"""What every method group of :class:`~taskcore_redis.backend.RedisBackend` reads through.

:class:`RedisAccess` declares the state the groups share (the client, the key names, the
scripts) and the helpers they call: where the server is (for error messages), key enumeration
by SCAN and the command pushes are published with. The groups themselves are mixins on it
(:mod:`taskcore_redis.delayed`, :mod:`taskcore_redis.workers`); the backend class puts them
together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from taskcore_redis.errors import describe_server
from taskcore_redis.keys import Keys
from taskcore_redis.lua import Scripts

__all__ = ["SCAN_COUNT", "RedisAccess", "optional_text", "text", "with_text_defaults"]

SCAN_COUNT = 1000
"""Keys per SCAN step and per MGET/UNLINK batch (node-resque's 10 is very slow, issue #325)."""


def with_text_defaults(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` for a redis-py (or fakeredis) client, with ``decode_responses=True`` and
    ``encoding_errors="surrogateescape"`` unless given: replies are ``str``, and any bytes
    round-trip through them (``Capabilities.binary_payloads``)."""
    return {"decode_responses": True, "encoding_errors": "surrogateescape", **options}


def text(value: str | bytes) -> str:
    """A reply as text; bytes that are not UTF-8 become lone surrogates (PEP 383), so a
    client without ``decode_responses`` reads every value losslessly as one with it does."""
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def optional_text(value: str | bytes | None) -> str | None:
    """:func:`text`, with None (an absent key) kept as None."""
    return None if value is None else text(value)


class RedisAccess:
    """The client, key names and scripts of one backend, and the helpers its groups share."""

    _client: Redis
    _keys: Keys
    _scripts: Scripts
    _description: str | None

    @property
    def server(self) -> str:
        """Where the server is, for messages: the backend's ``description`` (a topology URL
        without credentials, ``memory://<name>``), else ``host:port/db`` or ``unix:<path>``
        read from the client; no secrets."""
        if self._description is not None:
            return self._description
        return describe_server(self._client)

    async def _publish_command(self) -> str:
        """What the scripts publish a push with: ``"PUBLISH"`` here; a Redis Cluster backend
        answers ``"SPUBLISH"`` when it uses sharded pub/sub (:mod:`taskcore_redis.cluster`)."""
        return "PUBLISH"

    async def _scan(self, start: str) -> AsyncIterator[str | bytes]:
        """Keys named ``<ns>:<start>*`` (SCAN MATCH, COUNT 1000); a cluster scans the one node
        holding the namespace's slot."""
        async for key in self._client.scan_iter(match=self._keys.pattern(start), count=SCAN_COUNT):
            yield key

    async def _scan_values(self, start: str) -> dict[str, str]:
        """``{key: value}`` of string keys named ``<ns>:<start>*``; others are left out."""
        keys = [text(k) async for k in self._scan(start)]
        values: dict[str, str] = {}
        for i in range(0, len(keys), SCAN_COUNT):
            chunk = keys[i : i + SCAN_COUNT]
            for key, raw in zip(chunk, await self._client.mget(chunk), strict=True):
                if raw is not None:
                    values[key] = text(raw)
        return values
