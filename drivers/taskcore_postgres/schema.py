"""The PostgreSQL schema, defined once with SQLAlchemy Core, and its idempotent creation.

Every namespace lives in its own PostgreSQL schema (see :func:`schema_for_namespace`), so the
tables below carry no namespace column and the SQL in :mod:`taskcore_postgres.queries` stays the
shape the reference design measured. DDL is *compiled* by SQLAlchemy for the postgresql dialect
and executed with asyncpg: there is no second database driver.

Creation and upgrade (:func:`ensure_schema`) are versioned by ``tc_schema_version`` and run in
one transaction under ``pg_advisory_xact_lock``, so several processes opening the same
namespace at once create it exactly once and never see half a schema.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateSequence, CreateTable

__all__ = [
    "HEAD_SEQUENCE",
    "METADATA",
    "SCHEMA_VERSION",
    "TABLES",
    "drop_storage",
    "ensure_schema",
    "quote_ident",
    "schema_for_namespace",
]

SCHEMA_VERSION = 1
"""The version :func:`ensure_schema` brings a schema to. Bump it with a new entry in
``_MIGRATIONS`` whenever the tables change."""

# A constant first key for the two-key advisory lock; the second is hashtext(schema name).
_ADVISORY_CLASS = 0x74630001

METADATA = sa.MetaData()

# Known queues (resque's ``queues`` set): a queue stays known while empty until deleted.
sa.Table("tc_queues", METADATA, sa.Column("name", sa.Text, primary_key=True))

# Waiting jobs. INSERT and DELETE only; the primary key (queue, id) is the only index, so every
# per-queue pop and range is an index range scan and the generic plan cannot pick another index.
# Tail pushes take ids from the identity (1, 2, ...); head pushes take -nextval(HEAD_SEQUENCE)
# (-1, -2, ...), so the latest head push sorts first, as LPUSH does.
sa.Table(
    "tc_jobs",
    METADATA,
    sa.Column("queue", sa.Text, nullable=False),
    sa.Column("id", sa.BigInteger, sa.Identity(start=1), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("queue", "id", name="tc_jobs_pkey"),
)
HEAD_SEQUENCE = "tc_jobs_head_seq"

# Delayed jobs. ``digest`` is sha256(payload) computed by the driver: the unique index on
# (digest, ts) is resque's "one copy of a payload per second" rule, and a B-tree cannot index
# the payload itself (entries are limited to ~2.7 kB). Equality is always re-checked on payload.
sa.Table(
    "tc_delayed",
    METADATA,
    sa.Column("id", sa.BigInteger, sa.Identity(start=1), primary_key=True),
    sa.Column("ts", sa.BigInteger, nullable=False),
    sa.Column("queue", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("digest", sa.LargeBinary, nullable=False),
    sa.Index("tc_delayed_ts_id", "ts", "id"),
    sa.Index("tc_delayed_digest_ts", "digest", "ts", unique=True),
)

# Workers by member. ``registered`` is False for a row that exists only because a worker
# reserved without registering (its current job must still be in storage). The current-job
# columns are not indexed, so reserve/complete updates stay HOT.
sa.Table(
    "tc_workers",
    METADATA,
    sa.Column("member", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("queues", postgresql.ARRAY(sa.Text), nullable=False),
    sa.Column("registered", sa.Boolean, nullable=False),
    sa.Column("started", sa.BigInteger),
    sa.Column("job_queue", sa.Text),
    sa.Column("job_payload", sa.Text),
    sa.Column("job_run_at", sa.Text),
    sa.Index("tc_workers_name", "name"),
)

# Heartbeats by worker name (resque's ``worker:ping:<name>``), independent of registration.
sa.Table(
    "tc_pings",
    METADATA,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("queues", sa.Text, nullable=False),
    sa.Column("time", sa.BigInteger, nullable=False),
)

# Counters, sharded: a counter's value is the sum over its shards. Writers pick the shard
# pg_backend_pid() % 16, so concurrent workers on different connections never queue on one row.
sa.Table(
    "tc_counters",
    METADATA,
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("shard", sa.SmallInteger, nullable=False),
    sa.Column("value", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("name", "shard", name="tc_counters_pkey"),
)

# Locks and TTL keys. expires_at NULL = no expiry; an expired row reads as absent everywhere
# and is replaced by the next acquire.
sa.Table(
    "tc_locks",
    METADATA,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
)

# The failed list, ordered by id. ``digest`` only speeds up "first equal record" lookups.
sa.Table(
    "tc_failures",
    METADATA,
    sa.Column("id", sa.BigInteger, sa.Identity(start=1), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column(
        "digest",
        sa.LargeBinary,
        sa.Computed("decode(md5(body), 'hex')", persisted=True),
    ),
    sa.Index("tc_failures_digest", "digest"),
)

sa.Table(
    "tc_schema_version",
    METADATA,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

TABLES: tuple[str, ...] = tuple(METADATA.tables)
"""Every table name, in creation order."""

# Storage options for the tables rewritten on every job (reference design, part 3.1/4.11):
# vacuum the queue eagerly; leave room on pages of update-heavy tables for HOT updates.
_STORAGE_OPTIONS = {
    "tc_jobs": (
        "autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000, "
        "autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0.02"
    ),
    "tc_workers": "fillfactor = 50",
    "tc_counters": "fillfactor = 50",
    "tc_locks": "fillfactor = 50",
}

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
_SAFE_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_SCHEMA_PREFIX = "taskcore_"


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (double quotes doubled)."""
    if not name or "\x00" in name or len(name.encode()) > 63:
        raise ValueError(
            f"invalid PostgreSQL identifier {name!r}: it must be 1-63 bytes without NUL"
        )
    return '"' + name.replace('"', '""') + '"'


def schema_for_namespace(namespace: str) -> str:
    """The PostgreSQL schema that holds ``namespace``: ``taskcore_<namespace>``.

    A namespace that is not a short lowercase identifier is sanitised (other characters become
    ``_``, cut to 40 characters) and suffixed with 8 hex digits of its sha256, so two different
    namespaces never share a schema. The prefix keeps clear of ``public`` and ``pg_*``.
    """
    if _SAFE_NAME.fullmatch(namespace) and len(namespace) <= 40:
        return _SCHEMA_PREFIX + namespace
    cleaned = re.sub(r"[^a-z0-9_]", "_", namespace.lower())[:40]
    digest = hashlib.sha256(namespace.encode()).hexdigest()[:8]
    return f"{_SCHEMA_PREFIX}{cleaned}_{digest}"


def _create_statements(schema: str) -> list[str]:
    """DDL for version 1, compiled from :data:`METADATA` into ``schema``."""
    target = sa.MetaData()
    statements = [f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}"]
    for table in METADATA.sorted_tables:
        copy = table.to_metadata(target, schema=schema)
        statements.append(str(CreateTable(copy, if_not_exists=True).compile(dialect=_DIALECT)))
        statements.extend(
            str(CreateIndex(index, if_not_exists=True).compile(dialect=_DIALECT))
            for index in sorted(copy.indexes, key=lambda i: str(i.name))
        )
    sequence = sa.Sequence(HEAD_SEQUENCE, schema=schema, start=1)
    statements.append(str(CreateSequence(sequence, if_not_exists=True).compile(dialect=_DIALECT)))
    statements.extend(
        f"ALTER TABLE {quote_ident(schema)}.{table} SET ({options})"
        for table, options in _STORAGE_OPTIONS.items()
    )
    return statements


# version -> DDL that brings the previous version to it.
_MIGRATIONS: dict[int, Callable[[str], Sequence[str]]] = {1: _create_statements}


async def _current_version(conn: asyncpg.Connection, schema: str) -> int:
    exists = await conn.fetchval(
        "SELECT to_regclass($1) IS NOT NULL", f"{quote_ident(schema)}.tc_schema_version"
    )
    if not exists:
        return 0
    value = await conn.fetchval(
        f"SELECT coalesce(max(version), 0) FROM {quote_ident(schema)}.tc_schema_version"
    )
    return int(value)


async def ensure_schema(conn: asyncpg.Connection, schema: str) -> int:
    """Create or upgrade ``schema`` to :data:`SCHEMA_VERSION`; returns the version found.

    Idempotent and safe under concurrency: a read-only version check first (the common case,
    one round trip), then, only if needed, one transaction holding
    ``pg_advisory_xact_lock`` that re-checks and applies the missing migrations. Raises
    ``RuntimeError`` when the schema is newer than this code (upgrade taskcore).
    """
    found = await _current_version(conn, schema)
    if found == SCHEMA_VERSION:
        return found
    if found > SCHEMA_VERSION:
        raise RuntimeError(
            f"schema {schema!r} is at version {found}, newer than this taskcore understands "
            f"({SCHEMA_VERSION}); upgrade taskcore on this host"
        )
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))", _ADVISORY_CLASS, schema
        )
        found = await _current_version(conn, schema)
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[version](schema):
                await conn.execute(statement)
            await conn.execute(
                f"INSERT INTO {quote_ident(schema)}.tc_schema_version (version) VALUES ($1)",
                version,
            )
    return found


async def drop_storage(conn: asyncpg.Connection, schema: str, *, drop_schema: bool) -> None:
    """Drop every taskcore table of ``schema`` (and the schema itself when ``drop_schema`` and
    nothing else lives in it). One transaction under the same advisory lock as creation."""
    quoted = quote_ident(schema)
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))", _ADVISORY_CLASS, schema
        )
        for table in reversed(TABLES):
            await conn.execute(f"DROP TABLE IF EXISTS {quoted}.{table}")
        await conn.execute(f"DROP SEQUENCE IF EXISTS {quoted}.{HEAD_SEQUENCE}")
        if drop_schema:
            left = await conn.fetchval(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = $1",
                schema,
            )
            if left == 0:
                await conn.execute(f"DROP SCHEMA IF EXISTS {quoted}")
