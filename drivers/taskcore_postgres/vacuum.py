"""Keeping the jobs table's index lean where autovacuum does not.

Every reserved job is a deleted ``tc_jobs`` row, and its index entry stays until a VACUUM. A
reserve reads the head of each queue's ``(ns, queue, id)`` index range, so it walks past every
dead entry left there: where autovacuum does not run on ``tc_jobs`` (a server with
``autovacuum = off``, or the table's ``autovacuum_enabled = false``), a reserve costs more with
every job ever worked. Measured on the development machine with autovacuum off: a reserve read
5,600 index pages (3.5 ms) after 930,000 jobs, and one worker fell from 2,300 to under 300
jobs/s, so a 1,000,000-job drain seemed to hang.

:class:`JobsVacuum` counts the jobs a backend reserves; every :data:`VACUUM_EVERY` of them it
checks whether autovacuum covers ``tc_jobs`` (once per :data:`RECHECK_SECONDS`) and, if not,
runs ``VACUUM (SKIP_LOCKED) tc_jobs`` in a background task, on a pool connection, never on a
worker's call. SKIP_LOCKED: when another process is vacuuming the table already, this one
skips. A role that does not own the table gets PostgreSQL's warning and nothing happens; the
failure is logged at DEBUG and the next round tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg

__all__ = ["RECHECK_SECONDS", "VACUUM_EVERY", "JobsVacuum"]

log = logging.getLogger(__name__)

VACUUM_EVERY = 10_000
"""Jobs reserved through one backend between two vacuums (when autovacuum is off): at most
about this many dead index entries per backend for a reserve to walk past."""

RECHECK_SECONDS = 3600.0
"""Seconds a finding "autovacuum covers tc_jobs" is trusted before it is read again."""

# True when autovacuum runs on the table: on for the server, statistics collected, and not
# switched off for the table by its storage options.
_AUTOVACUUM_COVERS = """
    SELECT current_setting('autovacuum')::boolean
       AND current_setting('track_counts')::boolean
       AND coalesce((SELECT option_value::boolean FROM pg_options_to_table(c.reloptions)
                     WHERE option_name = 'autovacuum_enabled'), true)
    FROM pg_class AS c WHERE c.oid = to_regclass($1)"""

Run = Callable[[Callable[[asyncpg.Connection], Awaitable[object]]], Awaitable[object]]


class JobsVacuum:
    """Vacuums ``<schema>.tc_jobs`` every ``every`` reserved jobs when autovacuum does not.

    ``run`` runs a callable on a connection of the backend (its ``_run``); ``table`` is the
    qualified, quoted table name.
    """

    def __init__(self, run: Run, table: str, *, every: int = VACUUM_EVERY) -> None:
        self._run = run
        self._table = table
        self.every = every
        self._reserved = 0
        self._covered_until = float("-inf")  # monotonic time the last "covered" reading expires
        self._task: asyncio.Task[None] | None = None
        self.vacuums = 0
        """Vacuums this backend ran (for tests and diagnostics)."""

    def reserved(self) -> None:
        """Count one reserved job; start a vacuum round in the background every ``every``."""
        self._reserved += 1
        if self._reserved < self.every:
            return
        self._reserved = 0
        if time.monotonic() < self._covered_until:
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._round(), name="taskcore-postgres-vacuum"
            )

    async def _round(self) -> None:
        try:
            covered = await self._run(lambda conn: conn.fetchval(_AUTOVACUUM_COVERS, self._table))
            if covered:
                self._covered_until = time.monotonic() + RECHECK_SECONDS
                return
            await self._run(lambda conn: conn.execute(f"VACUUM (SKIP_LOCKED) {self._table}"))
            self.vacuums += 1
        except Exception as exc:  # maintenance only: never disturb the workers
            log.debug("taskcore postgres: vacuuming %s failed: %s", self._table, exc)

    async def wait(self) -> None:
        """Wait for a round in progress (tests)."""
        task = self._task
        if task is not None:
            await asyncio.shield(task)

    async def aclose(self) -> None:
        """Cancel a round in progress (the backend is closing)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
