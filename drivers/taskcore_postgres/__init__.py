"""taskcore's PostgreSQL driver: resque-shaped storage in tables, on asyncpg.

``from_url("postgresql://user@host/db", namespace=...)`` or ``PostgresBackend(dsn_or_pool)``.
Each namespace gets its own PostgreSQL schema, created on :meth:`PostgresBackend.open`.
See docs/postgres.md.
"""

from __future__ import annotations

from taskcore_postgres.backend import PostgresBackend, from_url
from taskcore_postgres.schema import SCHEMA_VERSION, schema_for_namespace

__all__ = ["SCHEMA_VERSION", "PostgresBackend", "from_url", "schema_for_namespace"]
