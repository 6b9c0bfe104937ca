"""The operations part of :class:`~taskcore.config.Settings`: log levels and health thresholds.

Per-event log levels work like Actionhero's ``workerLogging``/``schedulerLogging``: a mapping
from event name to a level (``debug``, ``info``, ``warning``, ``error``, ``critical``) or
``off``. What is given is merged over :data:`WORKER_LOGGING` / :data:`SCHEDULER_LOGGING`, so a
setting names only the events it changes::

    Settings(worker_logging={"success": "debug", "ping": "off"})
    TASKCORE_WORKER_LOGGING='{"success": "debug"}'

An unknown event name or level is a configuration error naming it. Every duration here is in
SECONDS: a number, or a :class:`~datetime.timedelta` in code
(``HealthSettings(age_warn=timedelta(minutes=5))``), stored as float seconds. This module imports
only pydantic, so :mod:`taskcore.config` can import it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import pydantic
from pydantic import BaseModel, BeforeValidator, Field

__all__ = [
    "LEVELS",
    "SCHEDULER_LOGGING",
    "WORKER_LOGGING",
    "HealthSettings",
    "PositiveSeconds",
    "QueueLimits",
    "as_seconds",
    "event_levels",
    "level_number",
]

LEVELS: dict[str, int | None] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "off": None,
}
"""Accepted level names (case-insensitive) and their :mod:`logging` numbers; ``off`` is None."""

WORKER_LOGGING: dict[str, str] = {
    "start": "info",
    "end": "info",
    "success": "info",
    "failure": "error",
    "re_enqueue": "warning",
    "skipped": "info",
    "error": "error",
    "job": "debug",
    "poll": "debug",
    "pause": "debug",
    "ping": "debug",
    "multi_worker_action": "debug",
}
"""Default level of each worker and pool event."""

SCHEDULER_LOGGING: dict[str, str] = {
    "start": "info",
    "end": "info",
    "leader": "info",
    "leader_lost": "warning",
    "transferred_job": "info",
    "clean_stuck_worker": "warning",
    "clock_skew": "warning",
    "error": "error",
    "poll": "debug",
}
"""Default level of each scheduler event. ``transferred_job`` is logged as one line per poll
that promoted jobs (a count per queue) at this level, and once per job at DEBUG; ``poll`` is
one line at the end of each poll as leader (the scheduler's ``poll_done``: counts and
duration)."""


def _timedelta_seconds(value: Any) -> Any:
    return value.total_seconds() if isinstance(value, timedelta) else value


if TYPE_CHECKING:
    PositiveSeconds = float | timedelta
else:
    PositiveSeconds = Annotated[float, BeforeValidator(_timedelta_seconds), Field(gt=0)]
"""A duration field: seconds > 0, given as a number or a timedelta, always stored as a float
(read it with :func:`as_seconds` to keep mypy's view of it a float)."""


def as_seconds(value: float | timedelta) -> float:
    """A :data:`PositiveSeconds` value as float seconds."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def level_number(name: str) -> int | None:
    """The :mod:`logging` level of ``name`` (see :data:`LEVELS`); None for ``off``."""
    return LEVELS[name.strip().lower()]


def event_levels(given: dict[str, str], defaults: dict[str, str]) -> dict[str, str]:
    """``given`` merged over ``defaults``, names and levels checked and lower-cased.

    Raises ValueError naming the first unknown event or level (pydantic prefixes the field).
    """
    merged = dict(defaults)
    for event, level in given.items():
        if event not in defaults:
            raise ValueError(
                f"unknown event {event!r} (a typo?); known events: {', '.join(sorted(defaults))}"
            )
        if not isinstance(level, str) or level.strip().lower() not in LEVELS:
            raise ValueError(f"event {event!r}: level {level!r} is not one of {', '.join(LEVELS)}")
        merged[event] = level.strip().lower()
    return merged


class QueueLimits(BaseModel):
    """Thresholds for one queue; None disables that check.

    ``length_*`` compare the number of waiting jobs; ``age_*`` the age in seconds of the job at
    the head of the queue (see :mod:`taskcore.ops.health` for how it is measured).
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    length_warn: Annotated[int | None, Field(ge=1)] = 1000
    length_fail: Annotated[int | None, Field(ge=1)] = None
    age_warn: PositiveSeconds | None = 300.0
    age_fail: PositiveSeconds | None = None


class HealthSettings(QueueLimits):
    """Thresholds of ``app.health()`` / ``taskcore health``; durations in seconds.

    The queue thresholds inherited from :class:`QueueLimits` apply to every queue unless
    ``queues`` names the queue (its :class:`QueueLimits` replaces them for that queue).
    """

    queues: dict[str, QueueLimits] = {}
    """Per-queue thresholds, replacing the defaults above for the queues named."""
    round_trip_warn: PositiveSeconds = 0.5
    """A storage ping slower than this is a warning."""
    timeout: PositiveSeconds = 5.0
    """The whole check must finish within this; past it storage counts as unreachable."""
    min_workers: Annotated[int, Field(ge=0)] = 1
    """Fewer live (pinging) workers than this is a warning; 0 disables the check."""
    require_leader: bool = True
    """No scheduler holding the leader lock is a warning (delayed jobs wait, stuck workers stay)."""
    delayed_overdue_warn: PositiveSeconds | None = 60.0
    """Delayed jobs due longer ago than this (not promoted) are a warning."""
    failed_growth_warn: Annotated[int | None, Field(ge=1)] = 1
    """The failed list growing by at least this since the previous check is a warning."""
    failed_growth_fail: Annotated[int | None, Field(ge=1)] = None
    """... and by at least this, a failure."""
    stuck_fail: bool = False
    """A stuck worker (no ping for ``stuck_worker_timeout``) fails the check instead of warning."""

    def limits_for(self, queue: str) -> QueueLimits:
        """The thresholds that apply to ``queue``."""
        return self.queues.get(queue, self)

    @pydantic.model_validator(mode="before")
    @classmethod
    def _none_words(cls, data: Any) -> Any:
        # The environment and TOML cannot say None: accept "none"/"null"/"" for optional fields.
        if isinstance(data, dict):
            return {
                k: None if isinstance(v, str) and v.strip().lower() in {"none", "null", ""} else v
                for k, v in data.items()
            }
        return data
