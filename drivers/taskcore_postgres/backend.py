"""PostgresBackend: the Backend protocol on PostgreSQL tables, through asyncpg.

Each protocol call is one SQL statement (data-modifying CTEs) from :mod:`.queries`, so it is
atomic, one round trip and one commit; ``clean_worker`` is the one explicit transaction, because
it calls back into Python between reading and writing. See docs/postgres.md for the mapping.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from taskcore.backend import (
    Backend,
    Capabilities,
    CurrentJob,
    DelayedJob,
    FailureFactory,
    Outcome,
    Reservation,
    WakeUp,
    WorkerId,
    WorkerPing,
)
from taskcore.codec import encode_current_job, js_date, js_round
from taskcore.errors import BackendError, ConfigError, InvalidArgument
from taskcore.urls import check_url, is_keyword_dsn
from taskcore_postgres import schema as schema_mod
from taskcore_postgres.batch import BatchKey, ReserveBatcher, ReserveCall
from taskcore_postgres.connections import NATIVE_ERRORS, PostgresConnections
from taskcore_postgres.dsn import keyword_dsn_to_url
from taskcore_postgres.notify import NotificationHub
from taskcore_postgres.queries import Queries
from taskcore_postgres.text import check_storable
from taskcore_postgres.vacuum import JobsVacuum

__all__ = ["PostgresBackend", "from_url"]

# Reserve retries when a statement saw jobs but all were locked by concurrent reservers or
# deleted under it (READ COMMITTED + SKIP LOCKED can return nothing while jobs remain).
_RESERVE_ATTEMPTS = 3

_SWEEP_EVERY = 60.0
"""Seconds between deletions of expired lock rows (piggy-backed on promote_due)."""


def _digest(payload: str) -> bytes:
    return hashlib.sha256(payload.encode()).digest()


def _member_key(worker: WorkerId) -> bytes:
    """The workers table's key for ``worker``: sha256 of its member's UTF-8 bytes."""
    return _digest(worker.member)


def _batch_key(queues: Sequence[str], worker: WorkerId) -> BatchKey:
    return (tuple(queues), worker.queues)


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class PostgresBackend(PostgresConnections, Backend):
    """Storage in PostgreSQL: tables shaped per resque structure, keyed by namespace.

    ``dsn_or_pool`` is a ``postgresql://`` DSN (credentials and ``?sslmode=`` in it) or an
    existing :class:`asyncpg.Pool` (not closed by :meth:`aclose`; the LISTEN connection is then
    borrowed from it). ``namespace`` is the ``ns`` key column of every row; ``schema`` is the
    PostgreSQL schema holding the tables (default ``taskcore``, created on :meth:`open`).
    ``min_size``/``max_size`` size the pool this backend creates (connections open on demand,
    up to one per concurrent call: the default 20 matches the worker pool's default maximum).
    ``reserve_statements`` caps the reserve statements this backend runs at once: the reserve
    calls of its workers made meanwhile wait and go together in the next one, one commit for
    all (:mod:`taskcore_postgres.batch`; the default 1 gives the largest batches, which
    measured fastest). Other ``options`` go to
    :func:`asyncpg.create_pool` (for example ``server_settings={"synchronous_commit": "off"}``,
    ``command_timeout``, ``statement_cache_size=0`` behind PgBouncer in transaction mode).
    """

    capabilities = Capabilities(
        resque_wire_format=False,
        shared_across_processes=True,
        enqueue_notifications=True,
        single_call_complete_and_reserve=True,
    )

    def __init__(
        self,
        dsn_or_pool: str | asyncpg.Pool,
        *,
        namespace: str = "resque",
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 20,
        reserve_statements: int = 1,
        **options: Any,
    ) -> None:
        self.namespace = namespace
        if not isinstance(reserve_statements, int) or reserve_statements < 1:
            raise ConfigError(
                f"reserve_statements must be a whole number of at least 1, got "
                f"{reserve_statements!r}; 1 (the default) suits most pools"
            )
        self._batcher = ReserveBatcher(self._execute_batch, reserve_statements)
        self.schema = schema if schema is not None else schema_mod.DEFAULT_SCHEMA
        try:
            quoted = schema_mod.quote_ident(self.schema)
        except ValueError as exc:
            raise ConfigError(f"schema: {exc}") from exc
        self._sql = Queries(quoted)
        self._head_sequence = f"{quoted}.{schema_mod.HEAD_SEQUENCE}"
        self.vacuum = JobsVacuum(self._run, f"{quoted}.tc_jobs")
        """Vacuums tc_jobs every few thousand reserved jobs where autovacuum does not."""
        self.channel = schema_mod.channel_for(self.schema, namespace)
        super().__init__(dsn_or_pool, min_size=min_size, max_size=max_size, options=options)
        self._hub = NotificationHub(self._listener_connect, self._listener_release, self.channel)
        self._last_sweep = float("-inf")

    def __repr__(self) -> str:
        return f"PostgresBackend({self._where()!r}, namespace={self.namespace!r})"

    # ------------------------------------------------------------------ 1. lifecycle

    async def open(self) -> None:
        """Create the pool (when given a DSN) and create or upgrade the tables (once per
        database and schema, not per namespace).

        Idempotent. Raises BackendUnavailable when the server cannot be reached."""
        if self._opened:
            return
        try:
            await self._create_pool()
            assert self._pool is not None
            async with self._pool.acquire() as conn:
                await schema_mod.ensure_schema(conn, self.schema)
        except NATIVE_ERRORS as exc:
            await self._close_pool()
            self._raise_translated(exc)
        except RuntimeError as exc:
            await self._close_pool()
            raise BackendError(str(exc)) from exc
        self._opened = True

    async def aclose(self) -> None:
        """Stop the listener, give held connections back and close the pool this backend
        created. Idempotent."""
        await self._hub.aclose()
        await self._batcher.aclose()
        await self.vacuum.aclose()
        self._opened = False
        await self._release_idle()
        await self._close_pool()

    async def ping(self) -> None:
        await self._run(lambda conn: conn.fetchval(self._sql.PING), read_only=True)

    async def server_time(self) -> float:
        """``extract(epoch FROM clock_timestamp())``: the server's clock, unix seconds."""
        value = await self._run(lambda conn: conn.fetchval(self._sql.SERVER_TIME), read_only=True)
        return float(value)

    # ------------------------------------------------------------------ 2. queues

    async def push(self, queue: str, payload: str, *, front: bool = False) -> None:
        check_storable(queue=queue, payload=payload)
        if front:
            await self._execute(
                self._sql.PUSH_HEAD, queue, payload, self.channel, self._head_sequence
            )
        else:
            await self._execute(self._sql.PUSH_TAIL, queue, payload, self.channel)

    async def push_many(self, jobs: Sequence[tuple[str, str]]) -> None:
        """One INSERT .. SELECT FROM unnest(..) WITH ORDINALITY: ids in the batch's order,
        every queue recorded, one NOTIFY per queue. Every job is checked first, so text
        PostgreSQL cannot store fails the batch with nothing written."""
        if not jobs:
            return
        for queue, payload in jobs:
            check_storable(queue=queue, payload=payload)
        queues = [queue for queue, _ in jobs]
        payloads = [payload for _, payload in jobs]
        await self._execute(self._sql.PUSH_MANY, queues, payloads, self.channel)

    async def _execute_batch(
        self, key: BatchKey, calls: Sequence[ReserveCall]
    ) -> list[Reservation | None]:
        """Run the reserve statement for ``calls`` (the one-worker statement for one call),
        again for those left without a job while it reports jobs it could not take
        (:mod:`taskcore_postgres.reserve_sql`); each outcome is recorded by the first attempt,
        later ones are plain reserves."""
        if len(calls) == 1:
            call = calls[0]
            return [await self._reserve_one(key[0], call.worker, call.now, call.outcome)]
        queues, worker_queues = key
        results: list[Reservation | None] = [None] * len(calls)
        todo = list(range(len(calls)))
        first = True
        for _ in range(_RESERVE_ATTEMPTS):
            keys, members, names, joined, run_ats, seconds = [], [], [], [], [], []
            finishing: list[bool] = []
            failures: list[str | None] = []
            counters: list[str] = []
            for index in todo:
                call = calls[index]
                worker = call.worker
                keys.append(_member_key(worker))
                members.append(worker.member)
                names.append(worker.name)
                joined.append(worker.queues_str)
                run_ats.append(js_date(call.now))
                seconds.append(js_round(call.now))
                outcome = call.outcome if first else None
                finishing.append(outcome is not None)
                failures.append(None if outcome is None else outcome.failure_record)
                if outcome is not None:
                    counters.extend(outcome.stat_deltas(worker.name))
            rows = await self._fetch(
                self._sql.RESERVE_MANY,
                keys,
                members,
                names,
                joined,
                run_ats,
                seconds,
                finishing,
                failures,
                counters,
                list(worker_queues),
                list(queues),
            )
            first = False
            missed = []
            for index, row in zip(todo, rows, strict=True):
                if row[1] is not None:
                    results[index] = Reservation(row[0], row[1])
                    self.vacuum.reserved()
                else:
                    missed.append(index)
            if not missed or not rows[0][2]:
                break
            todo = missed
        return results

    async def _reserve_one(
        self,
        queues: Sequence[str],
        worker: WorkerId,
        now: float,
        finished: Outcome | None,
    ) -> Reservation | None:
        """One worker's reserve statement, retried while it reports jobs it could not take."""
        base: list[Any] = [
            worker.member,
            worker.name,
            list(worker.queues),
            js_date(now),
            js_round(now),
            worker.queues_str,
            _member_key(worker),
            list(queues),
        ]
        if finished is not None:
            base += [sorted(finished.stat_deltas(worker.name)), finished.failure_record]
        for _ in range(_RESERVE_ATTEMPTS):
            sql = self._sql.RESERVE if finished is None else self._sql.COMPLETE_AND_RESERVE
            row = await self._fetchrow(sql, *base)
            if row is None:  # pragma: no cover - the statement always returns one row
                return None
            if row[1] is not None:
                self.vacuum.reserved()
                return Reservation(row[0], row[1])
            if not row[2]:
                return None
            if finished is not None:
                # The outcome is recorded; further attempts are plain reserves.
                base, finished = base[:8], None
        return None

    async def reserve(
        self, queues: Sequence[str], worker: WorkerId, now: float
    ) -> Reservation | None:
        """Reserve the next job for ``worker``; the call may share one statement with those of
        the other workers of this backend (:mod:`taskcore_postgres.batch`). It also
        registers ``worker`` again (ping at ``now``) when it is missing from the workers."""
        if not queues:
            return None
        return await self._batcher.submit(_batch_key(queues, worker), worker, now, None)

    async def complete(self, worker: WorkerId, outcome: Outcome) -> None:
        deltas = outcome.stat_deltas(worker.name)
        await self._execute(
            self._sql.COMPLETE, _member_key(worker), sorted(deltas), outcome.failure_record
        )

    async def complete_and_reserve(
        self, worker: WorkerId, outcome: Outcome, queues: Sequence[str], now: float
    ) -> Reservation | None:
        """One statement: counters, failure record, current job cleared and the next job
        reserved and recorded (the merged cycle of the reference design, part 4.4), shared
        with other workers' calls as :meth:`reserve`."""
        if not queues:
            await self.complete(worker, outcome)
            return None
        return await self._batcher.submit(_batch_key(queues, worker), worker, now, outcome)

    async def queue_length(self, queue: str) -> int:
        return int(await self._fetchval(self._sql.QUEUE_LENGTH, queue))

    async def queue_range(self, queue: str, start: int, stop: int) -> list[str]:
        if start >= 0 and stop >= 0:
            if stop < start:
                return []
            rows = await self._fetch(self._sql.QUEUE_SLICE, queue, start, stop - start + 1)
        elif start >= 0 and stop == -1:
            rows = await self._fetch(self._sql.QUEUE_SLICE, queue, start, None)
        else:
            rows = await self._fetch(self._sql.QUEUE_RANGE, queue, start, stop)
        return [r[0] for r in rows]

    async def remove_from_queue(self, queue: str, payload: str, count: int = 0) -> int:
        if count >= 0:
            limit = count if count > 0 else None
            return int(await self._fetchval(self._sql.REMOVE_FROM_HEAD, queue, payload, limit))
        return int(await self._fetchval(self._sql.REMOVE_FROM_TAIL, queue, payload, -count))

    async def list_queues(self) -> list[str]:
        return [r[0] for r in await self._fetch(self._sql.LIST_QUEUES)]

    async def queues_with_jobs(self, *, all_up_to: int = 0) -> list[str]:
        return [r[0] for r in await self._fetch(self._sql.QUEUES_WITH_JOBS, all_up_to)]

    async def delete_queue(self, queue: str) -> int:
        return int(await self._fetchval(self._sql.DELETE_QUEUE, queue))

    async def wake_up(self, queues: Sequence[str]) -> WakeUp:
        """A NOTIFY-driven wake-up; the backend's LISTEN connection is opened on first use."""
        if not self._opened:
            raise BackendError("the PostgreSQL backend is not open; call `await backend.open()`")
        try:
            return await self._hub.subscribe(queues)
        except NATIVE_ERRORS as exc:
            self._raise_translated(exc)

    # ------------------------------------------------------------------ 3. delayed jobs

    async def schedule(self, timestamp: int, queue: str, payload: str) -> bool:
        check_storable(queue=queue, payload=payload)
        row = await self._fetchrow(
            self._sql.SCHEDULE, int(timestamp), queue, payload, _digest(payload)
        )
        return row is not None

    async def promote_due(self, now: float, limit: int = 1000) -> list[DelayedJob]:
        """Due means ``ts <= floor(now - 0.5)``: never early (:meth:`Backend.promote_due`)."""
        due = math.floor(now - 0.5)
        rows = await self._fetch(self._sql.PROMOTE_DUE, due, limit, self.channel)
        await self._maybe_sweep_locks()
        return [DelayedJob(int(r[0]), r[1], r[2]) for r in rows]

    async def _maybe_sweep_locks(self) -> None:
        """Delete expired lock rows now and then: they read as absent already, but unique lock
        names (per job args) would otherwise pile up. The scheduler calls promote_due
        periodically, so this needs no timer of its own."""
        if time.monotonic() - self._last_sweep >= _SWEEP_EVERY:
            self._last_sweep = time.monotonic()
            await self._execute(self._sql.SWEEP_LOCKS)

    async def delayed_timestamps(self) -> list[int]:
        return [int(r[0]) for r in await self._fetch(self._sql.DELAYED_TIMESTAMPS)]

    async def delayed_timestamps_page(self, after: int | None, limit: int) -> list[int]:
        """A loose index scan: one probe per second returned (:data:`Queries.DELAYED_PAGE`)."""
        if limit <= 0:
            return []
        rows = await self._fetch(self._sql.DELAYED_TIMESTAMPS_PAGE, after, int(limit))
        return [int(r[0]) for r in rows]

    async def delayed_page(self, after: int | None, limit: int) -> list[tuple[int, list[str]]]:
        """One statement, one snapshot: the page's seconds and their payloads."""
        if limit <= 0:
            return []
        page: dict[int, list[str]] = {}
        for ts, payload in await self._fetch(self._sql.DELAYED_PAGE, after, int(limit)):
            page.setdefault(int(ts), []).append(payload)
        return list(page.items())

    async def delayed_at(self, timestamp: int) -> list[str]:
        return [r[0] for r in await self._fetch(self._sql.DELAYED_AT, int(timestamp))]

    async def scheduled_at(self, payload: str) -> list[int]:
        rows = await self._fetch(self._sql.SCHEDULED_AT, _digest(payload), payload)
        return [int(r[0]) for r in rows]

    async def remove_delayed(self, payload: str) -> list[int]:
        rows = await self._fetch(self._sql.REMOVE_DELAYED, _digest(payload), payload)
        return [int(r[0]) for r in rows]

    async def remove_delayed_at(self, timestamp: int) -> list[str]:
        """One DELETE of every row at ``ts``, returning the payloads in scheduling order."""
        rows = await self._fetch(self._sql.REMOVE_DELAYED_AT, int(timestamp))
        return [r[0] for r in rows]

    # ------------------------------------------------------------------ 4. locks

    async def acquire_lock(self, name: str, value: str, ttl: int) -> bool:
        check_storable(name=name, value=value)
        return await self._fetchrow(self._sql.ACQUIRE_LOCK, name, value, int(ttl)) is not None

    async def set_lock(self, name: str, value: str, ttl: int | None) -> None:
        check_storable(name=name, value=value)
        await self._execute(self._sql.SET_LOCK, name, value, None if ttl is None else int(ttl))

    async def renew_lock(self, name: str, value: str, ttl: int) -> bool:
        check_storable(name=name, value=value)
        return await self._fetchrow(self._sql.RENEW_LOCK, name, value, int(ttl)) is not None

    async def release_lock(self, name: str, value: str | None = None) -> bool:
        return bool(await self._fetchval(self._sql.RELEASE_LOCK, name, value))

    async def get_lock(self, name: str) -> str | None:
        value: str | None = await self._fetchval(self._sql.GET_LOCK, name)
        return value

    async def lock_ttl(self, name: str) -> int | None:
        value = await self._fetchval(self._sql.LOCK_TTL, name)
        return None if value is None else int(value)

    async def list_locks(self, prefix: str) -> dict[str, str]:
        if not prefix:
            raise ValueError("list_locks needs a non-empty lock-name prefix, e.g. 'lock:'")
        rows = await self._fetch(self._sql.LIST_LOCKS, _like_prefix(prefix))
        return {r[0]: r[1] for r in rows}

    async def increment_lock(self, name: str, ttl: int) -> int:
        return int(await self._fetchval(self._sql.INCREMENT_LOCK, name, int(ttl)))

    # ------------------------------------------------------------------ 5. workers

    async def register_worker(self, worker: WorkerId, now: float) -> None:
        await self._execute(
            self._sql.REGISTER_WORKER,
            worker.member,
            worker.name,
            list(worker.queues),
            js_round(now),
            worker.queues_str,
            _member_key(worker),
        )

    async def ping_worker(self, worker: WorkerId, now: float) -> None:
        await self._execute(self._sql.PING_WORKER, worker.name, worker.queues_str, js_round(now))

    async def list_workers(self) -> list[WorkerId]:
        rows = await self._fetch(self._sql.LIST_WORKERS)
        return [WorkerId(r[0], tuple(r[1])) for r in rows]

    async def worker_started(self, worker: WorkerId) -> int | None:
        value = await self._fetchval(self._sql.WORKER_STARTED, _member_key(worker))
        return None if value is None else int(value)

    @staticmethod
    def _current(worker: WorkerId, queue: str, payload: str, run_at: str) -> CurrentJob:
        raw = encode_current_job(run_at, queue, worker.name, payload)
        return CurrentJob(worker, queue, payload, run_at, raw)

    async def current_job(self, worker: WorkerId) -> CurrentJob | None:
        row = await self._fetchrow(self._sql.CURRENT_JOB, _member_key(worker))
        if row is None:
            return None
        return self._current(worker, row[0], row[1], row[2])

    async def current_jobs(self) -> dict[WorkerId, CurrentJob | None]:
        result: dict[WorkerId, CurrentJob | None] = {}
        for name, queues, queue, payload, run_at in await self._fetch(self._sql.CURRENT_JOBS):
            worker = WorkerId(name, tuple(queues))
            result[worker] = (
                None if payload is None else self._current(worker, queue, payload, run_at)
            )
        return result

    async def worker_pings(self) -> list[WorkerPing]:
        rows = await self._fetch(self._sql.WORKER_PINGS)
        return [WorkerPing(r[0], r[1], int(r[2])) for r in rows]

    async def registered_worker_pings(self) -> list[WorkerPing]:
        """One query: pings whose name has a registered row (the workers' name index)."""
        rows = await self._fetch(self._sql.REGISTERED_PINGS)
        return [WorkerPing(r[0], r[1], int(r[2])) for r in rows]

    async def clean_worker(self, name: str, failure_for: FailureFactory) -> list[CurrentJob]:
        """One transaction: lock the worker's rows, build each orphaned job's failure record
        with ``failure_for``, then delete those rows and every other trace and append the
        failures (with ``failed`` bumped) in one statement. If ``failure_for`` raises, nothing
        is written. A same-named worker that reserves meanwhile keeps its row and its job."""

        async def clean(conn: asyncpg.Connection) -> list[CurrentJob]:
            async with conn.transaction():
                jobs: list[CurrentJob] = []
                members: list[bytes] = []
                for key, wname, queues, queue, payload, run_at in await conn.fetch(
                    self._sql.CLEAN_WORKER_LOCK, self.namespace, name
                ):
                    members.append(key)
                    if payload is not None:
                        worker = WorkerId(wname, tuple(queues))
                        jobs.append(self._current(worker, queue, payload, run_at))
                records = [failure_for(job) for job in jobs]
                await conn.execute(
                    self._sql.CLEAN_WORKER_APPLY, self.namespace, name, records, members
                )
            return jobs

        return await self._run(clean)

    # ------------------------------------------------------------------ 6. stats and failures

    async def increment_stats(self, deltas: Mapping[str, int]) -> None:
        if not deltas:
            return
        names = list(deltas)
        await self._execute(self._sql.INCREMENT_STATS, names, [int(deltas[n]) for n in names])

    async def stats(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in await self._fetch(self._sql.STATS)}

    async def push_failure(self, record: str) -> None:
        check_storable(record=record)
        await self._execute(self._sql.PUSH_FAILURE, record)

    async def failure_count(self) -> int:
        return int(await self._fetchval(self._sql.FAILURE_COUNT))

    async def failures(self, start: int, stop: int) -> list[str]:
        if start >= 0 and stop >= 0:
            if stop < start:
                return []
            rows = await self._fetch(self._sql.FAILURES_SLICE, start, stop - start + 1)
        elif start >= 0 and stop == -1:
            rows = await self._fetch(self._sql.FAILURES_SLICE, start, None)
        else:
            rows = await self._fetch(self._sql.FAILURES_RANGE, start, stop)
        return [r[0] for r in rows]

    async def failures_after(self, cursor: str | None, limit: int) -> tuple[list[str], str]:
        """By id (an index range scan of the primary key): the cursor is the last id seen."""
        if cursor is not None and not cursor.isdigit():
            raise InvalidArgument(
                f"cursor {cursor[:40]!r} is not one failures_after returned; pass None to "
                "start over"
            )
        if limit <= 0:
            return [], cursor or "0"
        rows = await self._fetch(self._sql.FAILURES_AFTER, cursor and int(cursor), int(limit))
        return [r[1] for r in rows], str(rows[-1][0]) if rows else cursor or "0"

    async def remove_failure(self, record: str) -> int:
        return int(await self._fetchval(self._sql.REMOVE_FAILURE, record))

    async def clear_failures(self) -> int:
        return int(await self._fetchval(self._sql.CLEAR_FAILURES))

    async def retry_failure(self, record: str, queue: str, payload: str) -> bool:
        check_storable(record=record, queue=queue, payload=payload)
        rows = await self._fetch(self._sql.RETRY_FAILURE, record, queue, payload, self.channel)
        return bool(rows)

    # ------------------------------------------------------------------ 7. maintenance

    async def flush(self) -> None:
        """Delete every row of this namespace, in one statement; other namespaces' rows and
        the tables themselves stay."""
        await self._execute(self._sql.FLUSH)


def from_url(url: str, *, namespace: str = "resque", **options: Any) -> PostgresBackend:
    """A backend for a ``postgresql://`` or ``postgres://`` URL (credentials and ``sslmode``
    in the URL, handled by asyncpg). ``options`` as for :class:`PostgresBackend`.

    A URL whose port is not a number in 1..65535 (in the host list or ``?port=``), or that has
    whitespace, is a :class:`~taskcore.errors.ConfigError` naming the part, here rather than at
    :meth:`~PostgresBackend.open` (:func:`taskcore.urls.check_url`).

    libpq's keyword/value form (``"host=db1,db2 port=5432 dbname=jobs"``) is accepted too and
    rewritten by :func:`taskcore_postgres.dsn.keyword_dsn_to_url`; ``options`` given here win
    over what it sets."""
    check_url(url)
    if is_keyword_dsn(url):
        url, from_dsn = keyword_dsn_to_url(url)
        options = {**from_dsn, **options}
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("postgresql", "postgres"):
        raise ConfigError(
            f"not a PostgreSQL URL (scheme {scheme!r}); use postgresql://user@host:5432/db"
        )
    return PostgresBackend(url, namespace=namespace, **options)
