"""Cron tasks: ``cron="*/5 * * * *"`` (five fields, optionally in a ``timezone``) on a task.

The scheduler leader fires them; every tick runs exactly once across the cluster, including
across a leader change, and ticks never drift (each is computed from the expression, never from
when the previous run happened). Parsing and DST rules are cronsim's, which follows Debian cron:
in a zone with daylight saving, a job at a fixed time that falls in the skipped hour runs when
the clock jumps (02:30 -> 03:00), and runs once, not twice, in the repeated hour; interval jobs
(``*/30 * * * *``) run in both copies of the repeated hour, as real time passes.

How it works, on the Backend protocol only (so on every driver and across processes):

* Ticks are **delayed jobs**: ``{"class": <task>, "queue": <task queue>, "args": [{}]}`` at the
  tick's second, so they show in ``timestamps()`` and node-resque promotes and sees them.
* Each poll of the scheduler **leader** (the ``poll`` event) keeps every tick up to
  ``now + horizon`` scheduled (``horizon`` = two poll intervals), so no tick waits for a poll.
* A per-task **cursor** lock ``taskcore-cron:<task>`` holds the latest tick scheduled (and the
  expression it came from). A tick is scheduled only by the node that moves the cursor onto
  it: ``release_lock(name, old value)`` (compare-and-delete) then ``acquire_lock`` (set if
  absent). Two leaders racing through a failover therefore never both schedule a tick. Between
  those two calls the cursor is briefly absent, and a node reading it then would restart the
  task at the next tick (skipping a catch-up): so each step first takes a short per-task step
  lock ``taskcore-cron-step:<task>`` (:data:`STEP_LOCK_TTL`), and a node that finds it held
  leaves the step to its holder. The delayed set's one-copy-per-second rule makes
  re-scheduling the cursor tick (done on every poll, in case a leader died between moving the
  cursor and scheduling) a no-op.
* When the cursor shows ticks that came and went with no leader (a failover longer than the
  period, or the whole cluster down), ``cron_catchup`` decides: True (default) runs the
  missed ticks **once, late** (several missed ticks of one outage coalesce into one run, at
  the latest missed tick's time); False skips them and waits for the next tick.
* The cursor expires :data:`CURSOR_TTL` seconds after its tick: after a longer outage the task
  starts afresh at the next tick. A changed expression or time zone restarts it too.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from taskcore import codec
from taskcore.errors import BackendUnavailable, ConfigError

if TYPE_CHECKING:
    from taskcore.queue import Queue
    from taskcore.scheduler import Scheduler
    from taskcore.tasks.registry import TaskRegistry
    from taskcore.tasks.task import Task

__all__ = [
    "CURSOR_PREFIX",
    "CURSOR_TTL",
    "STEP_LOCK_PREFIX",
    "STEP_LOCK_TTL",
    "CronSchedule",
    "advance_cron_task",
    "cron_step",
    "watch_cron",
]

log = logging.getLogger("taskcore.tasks")

CURSOR_PREFIX = "taskcore-cron:"
"""Lock-name prefix of the per-task cursors (``taskcore-cron:<task name>``)."""

STEP_LOCK_PREFIX = "taskcore-cron-step:"
"""Lock-name prefix of the per-task step locks (``taskcore-cron-step:<task name>``)."""

STEP_LOCK_TTL = 60
"""Seconds a step lock lives at most (a step takes milliseconds; the TTL frees the lock of a
node that died while stepping)."""

CURSOR_TTL = 7 * 24 * 3600
"""Seconds a cursor outlives its tick: missed ticks are caught up within this window."""

_MAX_STEPS = 1000  # ticks one task may schedule in one poll (a horizon wider than its period)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A validated five-field cron expression in a time zone (``None``: UTC).

    Times in and out are unix **seconds**; ticks are whole seconds.
    """

    expression: str
    timezone: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.expression, str) or len(self.expression.split()) != 5:
            raise ConfigError(
                f"cron={self.expression!r}: use five fields 'minute hour day month weekday', "
                "e.g. '*/5 * * * *'"
            )
        try:
            CronSim(self.expression, datetime.now(self.zone))
        except (CronSimError, ValueError) as exc:
            raise ConfigError(f"cron={self.expression!r} is not a valid expression: {exc}") from exc

    @property
    def zone(self) -> tzinfo:
        """The time zone the expression is read in."""
        if self.timezone is None:
            return UTC
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ConfigError(
                f"timezone={self.timezone!r} is not a known IANA time zone "
                "(e.g. 'Europe/Berlin'); install tzdata if the system has no zone database"
            ) from exc

    @property
    def fingerprint(self) -> str:
        """What the cursor remembers of the expression, to notice a changed one."""
        return f"{' '.join(self.expression.split())}|{self.timezone or 'UTC'}"

    def next_after(self, ts: float) -> int:
        """The first tick strictly after ``ts``."""
        floor = math.floor(ts)
        start = datetime.fromtimestamp(floor, self.zone)
        tick = int(next(CronSim(self.expression, start)).timestamp())
        return tick if tick > floor else self.next_after(floor + 1)

    def latest_at_or_before(self, ts: float) -> int:
        """The last tick at or before ``ts``."""
        start = datetime.fromtimestamp(math.floor(ts) + 1, self.zone)
        return int(next(CronSim(self.expression, start, reverse=True)).timestamp())


def _cursor_value(tick: int, schedule: CronSchedule) -> str:
    return f"{tick} {schedule.fingerprint}"


def _read_cursor(raw: str, schedule: CronSchedule) -> int | None:
    """The tick a cursor holds; None when it is not ours (hostile, or another expression)."""
    tick, _, fingerprint = raw.partition(" ")
    if fingerprint != schedule.fingerprint or not tick.isdigit() or len(tick) > 12:
        return None
    return int(tick)


async def advance_cron_task(queue: Queue, task: Task, now: float, horizon: float) -> list[int]:
    """Schedule every tick of cron ``task`` up to ``now + horizon`` (seconds) that no node has
    scheduled yet; returns the ticks this call scheduled (unix seconds).

    Safe to run on several nodes (or several times in one process) at once: one step runs at
    a time per task (the step lock; the others return ``[]``), and a tick is scheduled only by
    the node that moved the task's cursor onto it (see the module docstring).
    """
    schedule = task.cron_schedule
    if schedule is None:
        return []
    backend = queue.backend
    step_lock, token = f"{STEP_LOCK_PREFIX}{task.name}", uuid.uuid4().hex
    if not await backend.acquire_lock(step_lock, token, STEP_LOCK_TTL):
        return []  # another node (or another poll of this one) is stepping this task
    try:
        return await _advance(queue, task, schedule, now, horizon)
    finally:
        await backend.release_lock(step_lock, token)


async def _advance(
    queue: Queue, task: Task, schedule: CronSchedule, now: float, horizon: float
) -> list[int]:
    """The step of :func:`advance_cron_task`, run while holding the task's step lock."""
    backend = queue.backend
    key = f"{CURSOR_PREFIX}{task.name}"
    args = task.args({})
    payload = codec.encode_job(task.name, task.queue, args)
    scheduled: list[int] = []

    async def claim(old: str | None, target: int) -> bool:
        if old is not None and not await backend.release_lock(key, old):
            return False  # another node moved the cursor first
        ttl = max(1, math.ceil(target - now)) + CURSOR_TTL
        if not await backend.acquire_lock(key, _cursor_value(target, schedule), ttl):
            return False
        await backend.schedule(target, task.queue, payload)
        scheduled.append(target)
        return True

    for _ in range(_MAX_STEPS):
        raw = await backend.get_lock(key)
        cursor = None if raw is None else _read_cursor(raw, schedule)
        if raw is not None and cursor is None:
            log.warning("cron task %s: cursor %.80r restarts at the next tick", task.name, raw)
            await backend.release_lock(key, raw)
            raw = None
        if cursor is None:
            if not await claim(None, schedule.next_after(now)):
                break
            continue
        if cursor > now + 1 and cursor not in scheduled:
            # a leader may have died between moving the cursor and scheduling its tick
            await backend.schedule(cursor, task.queue, payload)
        if cursor > now + horizon:
            break
        target = schedule.next_after(cursor)
        if target <= now:  # ticks came and went with no leader
            missed = target
            if task.cron_catchup:
                target = max(target, schedule.latest_at_or_before(now))
            else:
                target = schedule.next_after(now)
            log.warning(
                "cron task %s missed tick(s) from %s: %s",
                task.name,
                codec.js_date(missed),
                f"running once late at {target}" if task.cron_catchup else "skipped",
            )
        if not await claim(raw, target):
            break
    return scheduled


async def cron_step(
    queue: Queue, registry: TaskRegistry, now: float, horizon: float
) -> dict[str, list[int]]:
    """:func:`advance_cron_task` for every cron task of ``registry``: ``{name: ticks}`` for the
    tasks that scheduled something. One task's failure is logged and the others still run;
    storage being unreachable propagates."""
    done: dict[str, list[int]] = {}
    for task in registry.tasks():
        if task.cron_schedule is None:
            continue
        try:
            ticks = await advance_cron_task(queue, task, now, horizon)
        except BackendUnavailable:
            raise
        except Exception as exc:
            log.error("cron task %s could not be scheduled: %s", task.name, exc)
            continue
        if ticks:
            done[task.name] = ticks
    return done


def watch_cron(scheduler: Scheduler, queue: Queue, registry: TaskRegistry) -> None:
    """Run :func:`cron_step` after each poll ``scheduler`` makes as leader (its ``poll``
    event), on its clock, with a horizon of two poll intervals. The App does this on
    scheduler nodes."""

    async def on_poll() -> None:
        await cron_step(queue, registry, scheduler.clock.now(), 2 * scheduler.timeout)

    scheduler.on("poll", on_poll)
