"""The PostgreSQL driver's connections: the pool, the connections held between calls, and
the statement runner every protocol call goes through.

:class:`PostgresConnections` is the base of :class:`~taskcore_postgres.backend.PostgresBackend`.
It creates (and closes) the pool when given a DSN, hands each call a connection (the most
recently used one it holds idle, else one from the pool), and runs the call with native errors
translated into taskcore errors (:meth:`PostgresConnections._run`): a connection the server
dropped is replaced, and a statement PostgreSQL rolled back whole runs again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import asyncpg

from taskcore.errors import BackendError, BackendUnavailable, ConfigError, TaskcoreError
from taskcore.urls import check_url
from taskcore_postgres.dsn import describe
from taskcore_postgres.queries import Queries

__all__ = ["NATIVE_ERRORS", "PostgresConnections"]

# Options that only asyncpg.create_pool understands; the rest also open the LISTEN connection.
_POOL_ONLY = frozenset(
    {"max_queries", "max_inactive_connection_lifetime", "setup", "init", "reset"}
)

# The native errors that mean "the server cannot be reached" (or the connection to it broke).
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)

NATIVE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
"""Everything the driver translates into taskcore errors."""

_ROLLED_BACK: tuple[type[BaseException], ...] = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)
"""Errors after which PostgreSQL has rolled the whole statement back: safe to run again."""

_ROLLED_BACK_ATTEMPTS = 5

T = TypeVar("T")


def _usable(conn: asyncpg.Connection) -> bool:
    """False when ``conn`` is closed, or no longer ours: a pooled connection the server closed
    is reclaimed by its pool, and every method of the proxy then raises InterfaceError."""
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:
        return False


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool reset that skips asyncpg's per-release ``RESET ALL; UNLISTEN *; ...`` round trip:
    pooled connections never carry session state here (asyncpg still rolls back an open
    transaction before calling this)."""


class PostgresConnections:
    """The pool and the statement runner of one backend (see the module docstring)."""

    namespace: str
    schema: str
    _sql: Queries

    def __init__(
        self,
        dsn_or_pool: str | asyncpg.Pool,
        *,
        min_size: int,
        max_size: int,
        options: dict[str, Any],
    ) -> None:
        """``namespace``, ``schema`` and ``_sql`` are set by the backend before any call."""
        if isinstance(dsn_or_pool, str):
            self._dsn: str | None = dsn_or_pool
            self._pool: asyncpg.Pool | None = None
        else:
            self._dsn = None
            self._pool = dsn_or_pool
        self._owns_pool = self._dsn is not None
        # Held connections bypass the pool's per-acquire/release hooks, so options that rely on
        # them (or a pool the caller shares with other code) keep per-call acquire and release.
        self._hold_connections = self._owns_pool and not (_POOL_ONLY & options.keys())
        self._idle: list[asyncpg.Connection] = []
        self._waiting = 0  # calls blocked in pool.acquire()
        self._min_size = min_size
        self._max_size = max_size
        self._options = options
        self._opened = False

    def _where(self) -> str:
        """Host, port and database of the DSN, never its credentials."""
        if self._dsn is None:
            return "<asyncpg pool>"
        return describe(self._dsn)

    def _translate(self, exc: BaseException) -> TaskcoreError | None:
        """The taskcore error for a native one; None when ``exc`` is not a database error."""
        if isinstance(exc, _UNAVAILABLE):
            return BackendUnavailable(
                f"PostgreSQL at {self._where()} is unreachable ({type(exc).__name__}: {exc}). "
                "Check that the server is running and the DSN's host, port, credentials and "
                "sslmode are right. A read can simply be retried; a write whose connection "
                "died mid-statement was either committed whole or not at all."
            )
        if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
            return BackendError(
                f"PostgreSQL error in namespace {self.namespace!r} (schema {self.schema!r}): "
                f"{type(exc).__name__}: {exc}"
            )
        return None

    def _raise_translated(self, exc: BaseException) -> NoReturn:
        """Raise the taskcore error for native ``exc`` (from it), or ``exc`` itself."""
        mapped = self._translate(exc)
        if mapped is None:
            raise exc
        raise mapped from exc

    async def _checkout(self) -> asyncpg.Connection:
        """A connection for one call: the most recently used idle one this backend holds, else
        one from the pool.

        Holding idle connections between calls (instead of releasing each to the pool) spares
        every call asyncpg's acquire/release machinery, a shielded task per release, measured
        at ~100 us a call; LIFO keeps a lone worker loop on one connection (and one counter
        shard). At most ``max_size`` are held: they all come from the pool.
        """
        pool = self._pool
        if pool is None or not self._opened:
            raise BackendError(
                "the PostgreSQL backend is not open; call `await backend.open()` or use "
                "`async with backend:` first"
            )
        while self._idle:
            conn = self._idle.pop()
            if _usable(conn):
                return conn
            # Closed by the server while held idle: hand it back so the pool replaces it.
            await pool.release(conn)
        self._waiting += 1
        try:
            acquired: asyncpg.Connection = await pool.acquire()
        except NATIVE_ERRORS as exc:
            self._raise_translated(exc)
        finally:
            self._waiting -= 1
        return acquired

    async def _checkin(self, conn: asyncpg.Connection, *, healthy: bool) -> None:
        """Keep ``conn`` for the next call when the call on it succeeded (nothing to reset:
        the driver leaves no session state and no open transaction behind) and no call is
        waiting on the pool; otherwise, or when the pool is the caller's, give it back to the
        pool, which wakes a waiter, waits out a cancelled query and rolls back or replaces the
        connection as needed.

        A waiter only exists while no connection is held idle (:meth:`_checkout` takes those
        first), and from then on every finished call releases to the pool, so more concurrent
        calls than ``max_size`` queue on the pool instead of deadlocking."""
        if (
            healthy
            and self._hold_connections
            and self._opened
            and not self._waiting
            and _usable(conn)
        ):
            self._idle.append(conn)
            return
        pool = self._pool
        if pool is not None:
            with contextlib.suppress(*NATIVE_ERRORS):
                await pool.release(conn)

    async def _release_idle(self) -> None:
        """Give every held connection back to the pool (before it is closed)."""
        idle, self._idle = self._idle, []
        pool = self._pool
        if pool is None:
            return
        for conn in idle:
            with contextlib.suppress(*NATIVE_ERRORS):
                await pool.release(conn)

    async def _expire_connections(self) -> None:
        """After a connection died under a call, assume its siblings did too (a server
        restart or failover ends them all): drop the held ones and make the pool replace every
        connection it has on its next acquire, so the retry runs on a fresh connection."""
        idle, self._idle = self._idle, []
        for conn in idle:
            if _usable(conn):
                conn.terminate()
            await self._checkin(conn, healthy=False)
        if self._pool is not None:
            await self._pool.expire_connections()

    async def _run(
        self, op: Callable[[asyncpg.Connection], Awaitable[T]], *, read_only: bool = False
    ) -> T:
        """Run ``op`` on a connection of this backend, with native errors translated.

        A connection the server dropped while it sat idle (a restart, or
        ``pg_terminate_backend``) can fail its next use with InternalClientError before
        anything is sent; that connection is discarded and ``op`` runs once more on a fresh one.
        A ``read_only`` op is also run once more when the connection died under it (the server
        may have dropped it just before the op was sent): running a read twice changes nothing,
        whereas a write whose connection died is reported, not repeated. A statement PostgreSQL
        aborted to break a deadlock (e.g. cleaning a worker that is still alive while it
        completes a job) or a serialization conflict runs again, up to five times.
        """
        retryable: tuple[type[BaseException], ...] = (asyncpg.InternalClientError,)
        if read_only:
            retryable += (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError)
        lost = rolled_back = 0
        while True:
            conn = await self._checkout()
            try:
                result = await op(conn)
            except retryable as exc:
                if _usable(conn):
                    conn.terminate()
                await self._checkin(conn, healthy=False)
                lost += 1
                if lost > 1:
                    self._raise_translated(exc)
                await self._expire_connections()
                continue
            except _ROLLED_BACK as exc:
                # PostgreSQL aborted the statement (or transaction) whole to break a deadlock
                # or a serialization conflict: nothing of it was written, so it runs again.
                await self._checkin(conn, healthy=True)
                rolled_back += 1
                if rolled_back >= _ROLLED_BACK_ATTEMPTS:
                    self._raise_translated(exc)
                continue
            except BaseException as exc:
                await self._checkin(conn, healthy=False)
                if isinstance(exc, NATIVE_ERRORS):
                    self._raise_translated(exc)
                raise
            await self._checkin(conn, healthy=True)
            return result

    # Every statement in Queries takes the namespace as $1; these helpers pass it.

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._run(
            lambda conn: conn.fetch(sql, self.namespace, *args), read_only=sql in self._sql.reads
        )
        return rows

    async def _fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._run(
            lambda conn: conn.fetchrow(sql, self.namespace, *args),
            read_only=sql in self._sql.reads,
        )
        return row

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        return await self._run(
            lambda conn: conn.fetchval(sql, self.namespace, *args),
            read_only=sql in self._sql.reads,
        )

    async def _execute(self, sql: str, *args: Any) -> None:
        await self._run(lambda conn: conn.execute(sql, self.namespace, *args))

    async def _listener_connect(self) -> asyncpg.Connection:
        if self._dsn is not None:
            options = {k: v for k, v in self._options.items() if k not in _POOL_ONLY}
            conn: asyncpg.Connection = await asyncpg.connect(self._dsn, **options)
            return conn
        assert self._pool is not None
        borrowed: asyncpg.Connection = await self._pool.acquire()
        return borrowed

    async def _listener_release(self, conn: asyncpg.Connection) -> None:
        if self._dsn is not None:
            await conn.close()
        elif self._pool is not None:
            await self._pool.release(conn)

    async def _create_pool(self) -> None:
        """Create the pool from the DSN when this backend owns one (nothing for a caller's
        pool). A DSN or options asyncpg refuses are a :class:`~taskcore.errors.ConfigError`
        naming the part, never the password; native errors are left to the caller."""
        if not self._owns_pool:
            return
        assert self._dsn is not None
        try:
            check_url(self._dsn)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (PostgreSQL DSN {self._where()})") from None
        options = {"reset": _keep_session, **self._options}
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn, min_size=self._min_size, max_size=self._max_size, **options
            )
        except (ValueError, TypeError, OverflowError) as exc:
            # asyncpg's own messages name the bad part, never the password.
            raise ConfigError(
                f"invalid PostgreSQL connection settings for {self._where()}: {exc}. "
                "Check the DSN (postgresql://user:password@host:5432/database) and "
                "the options given to the backend (asyncpg.create_pool's)."
            ) from exc

    async def _close_pool(self) -> None:
        """Close the pool this backend created. ``pool.close()`` waits for every connection
        to come back, so calls still running keep ``self._pool`` to release theirs to until
        it returns (dropping the reference first made :meth:`aclose` wait forever)."""
        if self._owns_pool and self._pool is not None:
            pool = self._pool
            try:
                with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    await pool.close()
            finally:
                if self._pool is pool:
                    self._pool = None
