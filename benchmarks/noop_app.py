"""The APP that ``benchmarks/compare.py`` runs in worker processes: one no-op task, "noop"."""

from __future__ import annotations

from taskcore.tasks import TaskRegistry

tasks = TaskRegistry()


@tasks.task(name="noop", queue="bench")
async def noop() -> None:
    """Does nothing: the benchmark measures the per-job overhead."""
