"""Writing hostile records straight into a driver's storage, bypassing its API.

Anything in storage may have been written by another resque client, a bug or a hand edit, so
the suite plants such records raw and checks that reads and recovery cope. A driver in the
resque wire format is written through its redis-py ``client``; the PostgreSQL driver through
SQL on one of its own connections. For another driver :func:`raw_writer` skips the test: the
suite cannot know its storage layout.
"""

from __future__ import annotations

import abc
from typing import Any

import pytest

from taskcore.backend import Backend, WorkerId
from taskcore.codec import dumps, encode_ping, js_date, js_round

__all__ = ["RawWriter", "raw_writer"]


class RawWriter(abc.ABC):
    """Raw writes into one backend's namespace."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @abc.abstractmethod
    async def current_job(
        self, worker: WorkerId, payload: bytes, now: float, queue: str = "math"
    ) -> None:
        """Register ``worker`` (started and pinged at ``now``) holding ``payload`` (exact
        bytes) as its current job from ``queue``, in the driver's own record layout."""

    @abc.abstractmethod
    async def unwritable_queue(self) -> str:
        """A queue name whose next write the storage itself refuses (not a check in Python),
        for atomicity tests: on Redis its key holds a string, on PostgreSQL the name is too
        long for the queues table's index."""


class RedisRawWriter(RawWriter):
    """Keys of the resque layout, written with the backend's redis-py client."""

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        driver: Any = backend  # the client is the driver's, not on Backend's type
        self.client: Any = driver.client
        self.prefix = f"{backend.namespace}:" if backend.namespace.strip() else ""

    def key(self, rest: str) -> str:
        """``rest`` (a key name without the namespace) in this backend's namespace."""
        return self.prefix + rest

    async def current_job(
        self, worker: WorkerId, payload: bytes, now: float, queue: str = "math"
    ) -> None:
        head = f'{{"run_at":{dumps(js_date(now))},"queue":{dumps(queue)},'
        head += f'"worker":{dumps(worker.name)},"payload":'
        await self.record(worker, head.encode() + payload + b"}", now)

    async def unwritable_queue(self) -> str:
        await self.client.set(self.key("queue:blocked"), "a string, not a list")
        return "blocked"

    async def record(self, worker: WorkerId, record: bytes, now: float) -> None:
        """Register ``worker`` with ``record`` (exact bytes) as its whole current-job record."""
        seconds = js_round(now)
        await self.client.sadd(self.key("workers"), worker.member)
        await self.client.set(self.key(f"worker:{worker.member}:started"), seconds)
        await self.client.set(
            self.key(f"worker:ping:{worker.name}"),
            encode_ping(seconds, worker.name, worker.queues_str),
        )
        await self.client.set(self.key(f"worker:{worker.member}"), record)


class PostgresRawWriter(RawWriter):
    """Rows of the PostgreSQL driver's tables, written by SQL on one of its connections."""

    async def _execute(self, sql: str, *args: Any) -> None:
        from taskcore_postgres.schema import quote_ident

        driver: Any = self.backend  # the driver's schema and connection runner
        text = sql.replace("{s}", quote_ident(driver.schema))
        await driver._run(lambda conn: conn.execute(text, driver.namespace, *args))

    async def unwritable_queue(self) -> str:
        import secrets

        # Random text does not compress: past B-tree's ~2.7 kB entry limit.
        return "blocked-" + secrets.token_hex(4000)

    async def current_job(
        self, worker: WorkerId, payload: bytes, now: float, queue: str = "math"
    ) -> None:
        text = payload.decode()  # a text column: the test must need no other bytes
        seconds = js_round(now)
        await self._execute(
            """
            WITH w AS (
                INSERT INTO {s}.tc_workers (ns, member_key, member, name, queues, registered,
                                            started, job_queue, job_payload, job_run_at)
                VALUES ($1, sha256(convert_to($2, 'UTF8')), $2, $3, $4, true, $5, $6, $7, $8)
                ON CONFLICT (ns, member_key) DO UPDATE SET registered = true,
                    job_queue = EXCLUDED.job_queue, job_payload = EXCLUDED.job_payload,
                    job_run_at = EXCLUDED.job_run_at)
            INSERT INTO {s}.tc_pings (ns, name, queues, time) VALUES ($1, $3, $9, $5)
            ON CONFLICT (ns, name) DO UPDATE SET time = EXCLUDED.time""",
            worker.member,
            worker.name,
            list(worker.queues),
            seconds,
            queue,
            text,
            js_date(now),
            worker.queues_str,
        )


def raw_writer(backend: Backend) -> RawWriter:
    """The raw writer for ``backend``'s storage; skips the test for an unknown driver."""
    if backend.capabilities.resque_wire_format and hasattr(backend, "client"):
        return RedisRawWriter(backend)
    if type(backend).__module__.startswith("taskcore_postgres"):
        return PostgresRawWriter(backend)
    pytest.skip(f"no raw writer for {type(backend).__name__}: its storage layout is unknown")
