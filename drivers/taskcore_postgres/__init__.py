"""taskcore's PostgreSQL driver: resque-shaped storage in tables, on asyncpg.

``from_url("postgresql://user@host/db", namespace=...)`` or ``PostgresBackend(dsn_or_pool)``.
Namespaces share one set of tables (schema ``taskcore``), keyed by an ``ns`` column; the
tables are created or upgraded on :meth:`PostgresBackend.open`.
See docs/postgres.md.
"""

from __future__ import annotations

from taskcore_postgres.backend import PostgresBackend, from_url
from taskcore_postgres.schema import DEFAULT_SCHEMA, SCHEMA_VERSION

__all__ = ["DEFAULT_SCHEMA", "SCHEMA_VERSION", "PostgresBackend", "from_url"]
