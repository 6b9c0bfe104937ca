"""Translation of redis-py errors into :mod:`taskcore.errors`, in one place.

Every public method of :class:`~taskcore_redis.backend.RedisBackend` is wrapped with
:func:`translate_errors`: unreachable servers become
:class:`~taskcore.errors.BackendUnavailable`, every other Redis error
:class:`~taskcore.errors.BackendError`, with the native error kept as ``__cause__``. Messages name
the server as ``host:port`` (or the socket path) and never include credentials.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from redis import exceptions as redis_errors
from redis.asyncio import Redis

from taskcore.errors import BackendError, BackendUnavailable, InvalidArgument

__all__ = ["describe_server", "translate", "translate_errors"]

P = ParamSpec("P")
R = TypeVar("R")


class _HasServer(Protocol):
    @property
    def server(self) -> str: ...


S = TypeVar("S", bound=_HasServer)


def describe_server(client: Redis) -> str:
    """``host:port/db`` or ``unix:<path>`` of ``client``'s pool; never the password."""
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return f"unix:{kwargs['path']}"
    host = kwargs.get("host", "localhost")
    port = kwargs.get("port", 6379)
    return f"{host}:{port}/{kwargs.get('db', 0)}"


def translate(exc: BaseException, server: str) -> BaseException:
    """The taskcore error for a native one; other exceptions are returned unchanged."""
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError | OSError):
        return BackendUnavailable(
            f"cannot reach Redis at {server} ({type(exc).__name__}: {exc}); check that the "
            "server runs and the URL is right, then retry"
        )
    if type(exc) in (redis_errors.RedisClusterException, redis_errors.SlotNotCoveredError):
        # redis-py's cluster client raises these (not RedisErrors) when no node answers
        return BackendUnavailable(
            f"cannot reach the Redis Cluster at {server} ({type(exc).__name__}: {exc}); check "
            "that its nodes run and the URL lists at least one of them, then retry"
        )
    if isinstance(exc, redis_errors.RedisError | redis_errors.RedisClusterException):
        return BackendError(
            f"Redis at {server} failed the operation ({type(exc).__name__}: {exc}); check the "
            "server's logs and that nothing else writes this namespace with other data types"
        )
    if isinstance(exc, UnicodeEncodeError):  # a str no byte string stands for
        return InvalidArgument(
            f"a string argument holds {exc.object[exc.start : exc.end]!r}, which is no byte a "
            "Redis value can hold (only U+DC80..U+DCFF stand for bytes, with "
            'encoding_errors="surrogateescape"); pass valid text'
        )
    if isinstance(exc, UnicodeDecodeError):
        return BackendError(
            f"Redis at {server} returned bytes that are not UTF-8 and the client decodes them "
            'strictly; create it with encoding_errors="surrogateescape" (as from_url does)'
        )
    return exc


def translate_errors(
    method: Callable[Concatenate[S, P], Awaitable[R]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """Wrap an async backend method so native Redis errors surface as taskcore errors."""

    @functools.wraps(method)
    async def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(self, *args, **kwargs)
        except (
            redis_errors.RedisError,
            redis_errors.RedisClusterException,
            OSError,
            UnicodeError,
        ) as exc:
            mapped = translate(exc, self.server)
            if mapped is exc:
                raise
            raise mapped from exc

    return wrapper
