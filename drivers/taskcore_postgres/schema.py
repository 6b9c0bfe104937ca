"""The PostgreSQL tables, defined once with SQLAlchemy Core, and their idempotent creation.

All namespaces share one set of tables in one PostgreSQL schema (:data:`DEFAULT_SCHEMA` unless
the backend is given ``schema=``); every table leads with an ``ns`` column and every key and
index starts with it, so a namespace is a key prefix, as on Redis. (docs/postgres.md explains
why not one schema per namespace: DDL per namespace measured 85-280 ms and leaves catalog
objects behind that ``flush()`` cannot remove.) DDL is *compiled* by SQLAlchemy for the
postgresql dialect and executed with asyncpg: there is no second database driver.

Creation and upgrade (:func:`ensure_schema`) are versioned by ``tc_schema_version`` and run in
one transaction under ``pg_advisory_xact_lock``, so several processes opening the same
namespace at once create it exactly once and never see half a schema.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateSequence, CreateTable

__all__ = [
    "DEFAULT_SCHEMA",
    "HEAD_SEQUENCE",
    "METADATA",
    "SCHEMA_VERSION",
    "TABLES",
    "channel_for",
    "ensure_schema",
    "quote_ident",
]

DEFAULT_SCHEMA = "taskcore"
"""The PostgreSQL schema holding taskcore's tables unless ``schema=`` says otherwise."""

SCHEMA_VERSION = 2
"""The version :func:`ensure_schema` brings a schema to. Bump it with a new entry in
``_MIGRATIONS`` whenever the tables change (a new schema is created at this version directly).

* 1: the first tables.
* 2: ``tc_workers`` is keyed on ``member_key`` (sha256 of the member) instead of the member
  itself, whose text (``name:q1,q2,...``) exceeds a B-tree entry's ~2.7 kB limit for a worker
  of a few hundred queues."""

# A constant first key for the two-key advisory lock; the second is hashtext(schema name).
_ADVISORY_CLASS = 0x74630001

METADATA = sa.MetaData()


def _ns() -> sa.Column[str]:
    """The namespace column every table leads with (and every key starts with)."""
    return sa.Column("ns", sa.Text, nullable=False)


# Known queues (resque's ``queues`` set): a queue stays known while empty until deleted.
sa.Table(
    "tc_queues",
    METADATA,
    _ns(),
    sa.Column("name", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("ns", "name", name="tc_queues_pkey"),
)

# Waiting jobs. INSERT and DELETE only; the primary key (ns, queue, id) is the only index, so
# every per-queue pop and range is an index range scan and a generic plan cannot pick another
# index (reference design 3.10). Tail pushes take ids from the identity (1, 2, ...); head pushes
# take -nextval(HEAD_SEQUENCE) (-1, -2, ...), so the latest head push sorts first, as LPUSH does.
sa.Table(
    "tc_jobs",
    METADATA,
    _ns(),
    sa.Column("queue", sa.Text, nullable=False),
    sa.Column("id", sa.BigInteger, sa.Identity(start=1), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("ns", "queue", "id", name="tc_jobs_pkey"),
)
HEAD_SEQUENCE = "tc_jobs_head_seq"

# Delayed jobs. ``digest`` is sha256(payload) computed by the driver: the unique index on
# (ns, digest, ts) is resque's "one copy of a payload per second" rule, and a B-tree cannot
# index the payload itself (entries are limited to ~2.7 kB). Equality is re-checked on payload.
sa.Table(
    "tc_delayed",
    METADATA,
    _ns(),
    sa.Column("id", sa.BigInteger, sa.Identity(start=1), nullable=False),
    sa.Column("ts", sa.BigInteger, nullable=False),
    sa.Column("queue", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("digest", sa.LargeBinary, nullable=False),
    sa.PrimaryKeyConstraint("ns", "id", name="tc_delayed_pkey"),
    sa.Index("tc_delayed_ts_id", "ns", "ts", "id"),
    sa.Index("tc_delayed_digest_ts", "ns", "digest", "ts", unique=True),
)

# Workers by member. ``registered`` is False for a row that exists only because a worker
# reserved without registering (its current job must still be in storage). The current-job
# columns are not indexed, so reserve/complete updates stay HOT. The key is ``member_key``,
# sha256 of the member's UTF-8 bytes (computed by the driver): a B-tree cannot index the
# member of a worker of thousands of queues; the member text stays readable beside it.
sa.Table(
    "tc_workers",
    METADATA,
    _ns(),
    sa.Column("member_key", sa.LargeBinary, nullable=False),
    sa.Column("member", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("queues", postgresql.ARRAY(sa.Text), nullable=False),
    sa.Column("registered", sa.Boolean, nullable=False),
    sa.Column("started", sa.BigInteger),
    sa.Column("job_queue", sa.Text),
    sa.Column("job_payload", sa.Text),
    sa.Column("job_run_at", sa.Text),
    sa.PrimaryKeyConstraint("ns", "member_key", name="tc_workers_pkey"),
    sa.Index("tc_workers_name", "ns", "name"),
)

# Heartbeats by worker name (resque's ``worker:ping:<name>``), independent of registration.
sa.Table(
    "tc_pings",
    METADATA,
    _ns(),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("queues", sa.Text, nullable=False),
    sa.Column("time", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("ns", "name", name="tc_pings_pkey"),
)

# Counters, sharded: a counter's value is the sum over its shards. Writers pick the shard
# pg_backend_pid() % 16, so concurrent workers on different connections never queue on one
# row (one global row measured 2.9x slower, reference design 4.10).
sa.Table(
    "tc_counters",
    METADATA,
    _ns(),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("shard", sa.SmallInteger, nullable=False),
    sa.Column("value", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("ns", "name", "shard", name="tc_counters_pkey"),
)

# Locks and TTL keys. expires_at NULL = no expiry; an expired row reads as absent everywhere
# and is replaced by the next acquire.
sa.Table(
    "tc_locks",
    METADATA,
    _ns(),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    sa.PrimaryKeyConstraint("ns", "name", name="tc_locks_pkey"),
)

# The failed list, ordered by id. ``digest`` only speeds up "first equal record" lookups.
sa.Table(
    "tc_failures",
    METADATA,
    _ns(),
    sa.Column("id", sa.BigInteger, sa.Identity(start=1), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column(
        "digest",
        sa.LargeBinary,
        sa.Computed("decode(md5(body), 'hex')", persisted=True),
    ),
    sa.PrimaryKeyConstraint("ns", "id", name="tc_failures_pkey"),
    sa.Index("tc_failures_digest", "ns", "digest"),
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


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (double quotes doubled)."""
    if not name or "\x00" in name or len(name.encode()) > 63:
        raise ValueError(
            f"invalid PostgreSQL identifier {name!r}: it must be 1-63 bytes without NUL"
        )
    return '"' + name.replace('"', '""') + '"'


def channel_for(schema: str, namespace: str) -> str:
    """The LISTEN/NOTIFY channel of ``namespace`` in ``schema``: ``"<schema>:<namespace>"``,
    or a digest of it when that exceeds PostgreSQL's 63-byte channel limit."""
    channel = f"{schema}:{namespace}"
    if len(channel.encode()) <= 63:
        return channel
    return "taskcore:" + hashlib.sha256(channel.encode()).hexdigest()[:40]


def _create_statements(schema: str) -> list[str]:
    """DDL for the current version, compiled from :data:`METADATA` into ``schema``."""
    target = sa.MetaData()
    statements = []
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


def _key_workers_by_digest(schema: str) -> list[str]:
    """Version 1 -> 2: ``tc_workers`` keyed on ``(ns, member_key)``, the member's sha256."""
    table = f"{quote_ident(schema)}.tc_workers"
    return [
        f"ALTER TABLE {table} ADD COLUMN member_key bytea",
        f"UPDATE {table} SET member_key = sha256(convert_to(member, 'UTF8'))",
        f"ALTER TABLE {table} ALTER COLUMN member_key SET NOT NULL",
        f"ALTER TABLE {table} DROP CONSTRAINT tc_workers_pkey",
        f"ALTER TABLE {table} ADD CONSTRAINT tc_workers_pkey PRIMARY KEY (ns, member_key)",
    ]


# version -> DDL that brings the previous version to it. A missing schema is created at
# SCHEMA_VERSION by _create_statements instead.
_MIGRATIONS: dict[int, Callable[[str], Sequence[str]]] = {2: _key_workers_by_digest}


# Catalog lookups read pg_class/pg_namespace with the statement's snapshot. to_regclass() and
# to_regnamespace() go through the backend's catalog caches instead, which may still hold a
# "does not exist" entry from before another process committed the schema: an advisory lock,
# unlike a table lock, does not make the backend process invalidations (observed here: five
# concurrent opens ran the migration twice).
_TABLE_EXISTS = """
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = $1 AND c.relname = 'tc_schema_version')"""
_SCHEMA_EXISTS = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)"


async def _current_version(conn: asyncpg.Connection, schema: str) -> int:
    if not await conn.fetchval(_TABLE_EXISTS, schema):
        return 0
    value = await conn.fetchval(
        f"SELECT coalesce(max(version), 0) FROM {quote_ident(schema)}.tc_schema_version"
    )
    return int(value)


async def ensure_schema(conn: asyncpg.Connection, schema: str) -> int:
    """Create or upgrade ``schema`` to :data:`SCHEMA_VERSION`; returns the version found.

    Idempotent and safe under concurrency: two quick reads first (the common case: the schema is
    current), then, only if needed, one transaction holding
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
        if found == 0 and not await conn.fetchval(_SCHEMA_EXISTS, schema):
            # Only when missing: CREATE SCHEMA checks the CREATE privilege on the database
            # even with IF NOT EXISTS, which a role confined to an existing schema lacks.
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
        table = f"{quote_ident(schema)}.tc_schema_version"
        if found == 0:
            # A new schema is created at the current version in one step.
            script = [*_create_statements(schema)]
            script.append(f"INSERT INTO {table} (version) VALUES ({SCHEMA_VERSION:d})")
            await conn.execute(";\n".join(script))
            return found
        for version in range(found + 1, SCHEMA_VERSION + 1):
            # One simple-query round trip per migration: DDL has no parameters.
            script = [*_MIGRATIONS[version](schema)]
            script.append(f"INSERT INTO {table} (version) VALUES ({version:d})")
            await conn.execute(";\n".join(script))
    return found
