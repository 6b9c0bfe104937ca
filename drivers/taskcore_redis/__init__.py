"""taskcore's Redis driver: the resque key layout of node-resque 9 on ``redis.asyncio``.

``from_url("redis://host:6379/0", namespace="resque")`` builds a backend that owns its client;
``RedisBackend(client, namespace=...)`` uses a client you manage.
"""

from __future__ import annotations

from taskcore_redis.backend import RedisBackend, from_url

__all__ = ["RedisBackend", "from_url"]
