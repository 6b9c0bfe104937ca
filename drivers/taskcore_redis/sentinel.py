"""``redis+sentinel://`` URLs: :class:`RedisSentinelBackend`, the Redis driver on the primary
that Redis Sentinel names for a service, followed across failovers.

The client is redis-py's ``Sentinel.master_for`` (a ``SentinelConnectionPool``): each new
connection asks the Sentinels for the current primary, and a connection still open to a
demoted primary fails (READONLY, or the reset the Sentinel orders) instead of writing to a
replica. A call in flight at the switch raises :class:`~taskcore.errors.BackendUnavailable`;
workers, the scheduler and the wake-up listener retry as they do across a Redis restart.

Replication is asynchronous: writes the old primary acknowledged but had not yet sent to the
replica when it was demoted are lost with it (see docs/scaling.md for the window).
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel

from taskcore.backend import Capabilities
from taskcore.errors import ConfigError
from taskcore_redis.backend import RedisBackend
from taskcore_redis.errors import translate_errors
from taskcore_redis.topology import parse_sentinel_url

__all__ = ["RedisSentinelBackend", "from_url"]


class RedisSentinelBackend(RedisBackend):
    """The Redis driver on a Sentinel-managed primary; closes the Sentinel connections too.

    :attr:`server` is ``description``: the Sentinels and service as
    ``redis+sentinel://host:port,.../service``."""

    capabilities: ClassVar[Capabilities] = RedisBackend.capabilities

    def __init__(
        self,
        client: Redis,
        sentinel: Sentinel,
        *,
        namespace: str = "resque",
        description: str = "redis+sentinel://",
    ) -> None:
        super().__init__(client, namespace=namespace, owns_client=True, description=description)
        self._sentinel = sentinel

    @property
    def sentinel(self) -> Sentinel:
        """The redis-py Sentinel manager (read-only), e.g. to ask for the current primary."""
        return self._sentinel

    @translate_errors
    async def aclose(self) -> None:
        """Close the data client and every Sentinel connection. Idempotent."""
        await super().aclose()
        for client in self._sentinel.sentinels:
            with contextlib.suppress(redis_errors.RedisError, OSError):
                await client.aclose()


def from_url(url: str, *, namespace: str = "resque", **options: Any) -> RedisSentinelBackend:
    """A backend for a ``redis+sentinel://`` URL.

    ``options`` go to the data connections (``Sentinel.master_for``; ``decode_responses``
    defaults to True and ``encoding_errors`` to ``"surrogateescape"``, as for ``redis://``),
    except ``sentinel_kwargs`` (connection options for the Sentinels themselves, e.g. their own
    ``password``) and ``min_other_sentinels``. The URL's socket timeouts apply to both.
    Nothing connects until :meth:`RedisSentinelBackend.open` or the first call.
    """
    target = parse_sentinel_url(url)
    sentinel_kwargs = dict(options.pop("sentinel_kwargs", None) or {})
    min_other = int(options.pop("min_other_sentinels", 0))
    for key, value in target.options.items():
        sentinel_kwargs.setdefault(key, value)
    data = target.client_options(options)
    data.setdefault("db", target.db)
    try:
        sentinel = Sentinel(  # type: ignore[no-untyped-call]  # untyped in redis-py
            list(target.nodes), min_other_sentinels=min_other, sentinel_kwargs=sentinel_kwargs
        )
        client = sentinel.master_for(target.service, redis_class=Redis, **data)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid Redis Sentinel options ({exc})") from exc
    return RedisSentinelBackend(
        client, sentinel, namespace=namespace, description=target.describe("redis+sentinel")
    )
