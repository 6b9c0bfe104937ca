"""A user's module giving every duration as a timedelta: ``test_ops_units.py`` type-checks this
file under mypy --strict and imports it to check the values at run time."""

from __future__ import annotations

from datetime import timedelta

from taskcore.clock import FakeClock
from taskcore.config import Settings
from taskcore.ops.settings import HealthSettings, QueueLimits
from taskcore.tasks import Task


class Report(Task):
    name = "report"
    frequency = timedelta(minutes=5)
    timeout = timedelta(seconds=30)

    async def run(self, inputs: None, worker: object) -> None:
        return None


health = HealthSettings(
    age_warn=timedelta(minutes=5),
    round_trip_warn=timedelta(milliseconds=250),
    timeout=timedelta(seconds=2),
    delayed_overdue_warn=timedelta(minutes=1),
    queues={"mail": QueueLimits(age_fail=timedelta(hours=1))},
)
settings = Settings(timeout=timedelta(seconds=2), health=health)
FakeClock().advance(timedelta(minutes=1))
every: float = Report().frequency_seconds
limit: float | None = Report().timeout_seconds
