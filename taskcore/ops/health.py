"""Health: an ok/warn/fail verdict with reasons, for probes (``app.health()``, ``taskcore health``).

Everything is read through :class:`~taskcore.queue.Queue` and its backend, so it works on every
driver and from any process. Checks (thresholds in ``Settings.health``,
:class:`~taskcore.ops.settings.HealthSettings`; seconds everywhere):

==============  ===========================================================================
``storage``     a ping round trip: **fail** if unreachable or nothing answers within
                ``timeout`` (no other check then runs); warn above ``round_trip_warn``
``leader``      a scheduler holds the leader lock; warn if none (``require_leader``)
``workers``     workers pinging within ``stuck_worker_timeout``: warn if fewer than
                ``min_workers``
``stuck``       workers whose last ping is older than ``Settings.stuck_worker_timeout``
                (the scheduler's rule): warn (fail with ``stuck_fail``)
``queue:<q>``   waiting jobs against ``length_warn``/``length_fail``, and the age of the job at
                the head against ``age_warn``/``age_fail`` (per queue via ``queues``)
``delayed``     the oldest delayed job is due more than ``delayed_overdue_warn`` ago: warn
``failed``      the failed list grew since the previous check by ``failed_growth_warn`` (warn)
                or ``failed_growth_fail`` (fail)
==============  ===========================================================================

The verdict is the worst check; :attr:`HealthReport.exit_code` is 0/1/2 for ok/warn/fail.

**What the head-of-queue age measures.** resque payloads carry no enqueue time, so the age is
the time since a check first saw the job now at the head of the queue: a lower bound on its
wait, exact to the interval between checks (the first check reports 0). Identical payloads look
like one job. The state this needs (the head seen per queue and the failed count at the last
check) is kept in storage under the lock name :data:`STATE_KEY` (JSON, expiring after
:data:`STATE_TTL` seconds), so separate ``taskcore health`` runs share it; it is read as
untrusted data and ignored when malformed.

**Probes record, readers do not.** A recording check (``check(queue)``, the default: ``taskcore
health`` and ``app.health()``) compares with the stored state and then replaces it, so "the
previous check" is the previous probe. A read-only check (``check(queue, record=False)``: the
dashboard) compares with the same stored state and leaves it as it is, so however often a page
refreshes, the probe's failed-growth and queue-age windows stay the probe's. A read-only check
sees a queue head the probes have not recorded as age 0 (a lower bound, as always).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from taskcore.clock import Clock, SystemClock
from taskcore.codec import js_round
from taskcore.errors import BackendError, MalformedPayload
from taskcore.ops.logs import clean
from taskcore.ops.settings import as_seconds

if TYPE_CHECKING:
    from taskcore.config import Settings
    from taskcore.queue import Queue

__all__ = ["STATE_KEY", "STATE_TTL", "Check", "HealthChecker", "HealthReport", "Status"]

Status = Literal["ok", "warn", "fail"]
_RANK: dict[str, int] = {"ok": 0, "warn": 1, "fail": 2}

STATE_KEY = "taskcore_health_state"
"""Lock name of the state shared by checks (not a ``lock:``/``workerslock:`` plugin lock)."""
STATE_TTL = 7 * 24 * 3600
_MAX_STATE = 64 * 1024  # bytes of state accepted back from storage


@dataclass(frozen=True, slots=True)
class Check:
    """One check: its ``name``, ``status``, a one-line ``message`` and the measured ``value``."""

    name: str
    status: Status
    message: str
    value: float | int | str | None = None


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The verdict (worst status of :attr:`checks`) at ``checked_at`` (unix seconds)."""

    status: Status
    checks: list[Check]
    checked_at: float
    round_trip: float | None = None
    """The storage ping's round trip in seconds (None when unreachable)."""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 ok, 1 warn, 2 fail."""
        return _RANK[self.status]

    @property
    def reasons(self) -> list[str]:
        """The messages of the checks that are not ok, worst first."""
        bad = sorted((c for c in self.checks if c.status != "ok"), key=lambda c: -_RANK[c.status])
        return [c.message for c in bad]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``status``, ``exit_code``, ``reasons``, ``checks``, ``round_trip``..."""
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "reasons": self.reasons,
            "checked_at": self.checked_at,
            "round_trip": self.round_trip,
            "checks": [asdict(c) for c in self.checks],
            **self.details,
        }


def verdict(checks: list[Check], now: float, rtt: float | None, **details: Any) -> HealthReport:
    worst: Status = max((c.status for c in checks), key=lambda s: _RANK[s], default="ok")
    return HealthReport(worst, checks, now, rtt, details)


def _over(value: float, warn: float | timedelta | None, fail: float | timedelta | None) -> Status:
    if fail is not None and value >= as_seconds(fail):
        return "fail"
    if warn is not None and value >= as_seconds(warn):
        return "warn"
    return "ok"


def _load_state(raw: str | None) -> tuple[int | None, dict[str, tuple[str, float]]]:
    """The failed count and queue heads of the previous check; nothing if malformed."""
    if raw is None or len(raw) > _MAX_STATE:
        return None, {}
    try:
        data = json.loads(raw)
    except ValueError:
        return None, {}
    if not isinstance(data, dict):
        return None, {}
    failed = data.get("failed")
    failed = failed if isinstance(failed, int) and not isinstance(failed, bool) else None
    heads: dict[str, tuple[str, float]] = {}
    raw_heads = data.get("heads")
    if isinstance(raw_heads, dict):
        for queue, entry in raw_heads.items():
            if (
                isinstance(entry, list)
                and len(entry) == 2
                and isinstance(entry[0], str)
                and isinstance(entry[1], int | float)
                and not isinstance(entry[1], bool)
            ):
                heads[queue] = (entry[0], float(entry[1]))
    return failed, heads


class HealthChecker:
    """Runs the checks; one per App (``app.health()``) or per ``taskcore health`` run."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()

    async def check(self, queue: Queue, *, record: bool = True) -> HealthReport:
        """The verdict now. Storage errors and timeouts become a ``fail`` verdict.

        With ``record`` (the default; probes) the failed count and queue heads seen now are
        stored as the state the next check compares with; ``record=False`` compares with the
        stored state without writing anything (dashboards and other frequent readers).
        """
        now = self.clock.now()
        limit = as_seconds(self.settings.health.timeout)
        try:
            async with asyncio.timeout(limit):
                return await self._check(queue, now, record)
        except TimeoutError:
            message = f"storage did not answer within {limit:g} s (health.timeout)"
        except (BackendError, OSError) as exc:
            message = f"storage unreachable: {clean(f'{type(exc).__name__}: {exc}')}"
        return verdict([Check("storage", "fail", message)], now, None)

    async def _check(self, queue: Queue, now: float, record: bool) -> HealthReport:
        backend = queue.backend
        hs = self.settings.health
        started = time.perf_counter()
        await backend.ping()
        rtt = time.perf_counter() - started
        status: Status = "warn" if rtt > as_seconds(hs.round_trip_warn) else "ok"
        checks = [Check("storage", status, f"storage round trip {rtt * 1000:.1f} ms", rtt)]
        checks.append(await self._leader(queue))
        try:
            checks.extend(await self._workers(queue, now))
        except MalformedPayload as exc:
            message = f"a worker record cannot be decoded: {clean(exc, 120)}"
            checks.append(Check("workers", "warn", message))
        raw_state = await backend.get_lock(STATE_KEY)
        last_failed, heads = _load_state(raw_state)
        queue_checks, new_heads = await self._queues(queue, now, heads)
        checks.extend(queue_checks)
        checks.append(await self._delayed(queue, now))
        failed = await queue.failed_count()
        checks.append(self._failed(failed, last_failed))
        if record:
            state = json.dumps({"failed": failed, "at": now, "heads": new_heads})
            await backend.set_lock(STATE_KEY, state, STATE_TTL)
        return verdict(checks, now, rtt, failed=failed)

    async def _leader(self, queue: Queue) -> Check:
        leader = await queue.leader()
        if leader:
            return Check("leader", "ok", f"scheduler leader: {clean(leader)}", leader)
        status: Status = "warn" if self.settings.health.require_leader else "ok"
        return Check("leader", status, "no scheduler holds the leader lock: delayed jobs wait")

    async def _workers(self, queue: Queue, now: float) -> list[Check]:
        hs = self.settings.health
        pings = await queue.backend.worker_pings()
        stuck_after = self.settings.stuck_worker_timeout
        current = js_round(now)
        stuck = [
            p for p in pings if stuck_after is not None and current - p.time > js_round(stuck_after)
        ]
        live = len(pings) - len(stuck)
        status: Status = "warn" if live < hs.min_workers else "ok"
        checks = [Check("workers", status, f"{live} worker(s) pinging", live)]
        if stuck:
            names = ", ".join(f"{clean(p.name, 80)} ({current - p.time} s)" for p in stuck[:5])
            more = f" and {len(stuck) - 5} more" if len(stuck) > 5 else ""
            checks.append(
                Check(
                    "stuck",
                    "fail" if hs.stuck_fail else "warn",
                    f"{len(stuck)} stuck worker(s) without a ping for over {stuck_after:g} s: "
                    f"{names}{more}",
                    len(stuck),
                )
            )
        return checks

    async def _queues(
        self, queue: Queue, now: float, heads: dict[str, tuple[str, float]]
    ) -> tuple[list[Check], dict[str, list[Any]]]:
        hs = self.settings.health
        checks: list[Check] = []
        new_heads: dict[str, list[Any]] = {}
        for name in await queue.queues():
            length = await queue.length(name)
            limits = hs.limits_for(name)
            label = clean(name, 80)
            status = _over(length, limits.length_warn, limits.length_fail)
            checks.append(
                Check(f"queue:{name}", status, f"queue {label}: {length} waiting", length)
            )
            if length == 0:
                continue
            head = await queue.backend.queue_range(name, 0, 0)
            if not head:
                continue
            digest = hashlib.sha256(head[0].encode("utf-8", "surrogateescape")).hexdigest()[:16]
            seen = heads.get(name)
            since = seen[1] if seen is not None and seen[0] == digest else now
            new_heads[name] = [digest, since]
            age = max(0.0, now - since)
            status = _over(age, limits.age_warn, limits.age_fail)
            if status != "ok":
                message = f"queue {label}: the job at its head has waited at least {age:.0f} s"
                checks.append(Check(f"age:{name}", status, message, age))
        return checks, new_heads

    async def _delayed(self, queue: Queue, now: float) -> Check:
        limit = self.settings.health.delayed_overdue_warn
        stamps = await queue.backend.delayed_timestamps_page(None, 1)  # the oldest only
        if not stamps:
            return Check("delayed", "ok", "no delayed jobs", None)
        overdue = now - stamps[0]
        if limit is not None and overdue > as_seconds(limit):
            return Check(
                "delayed",
                "warn",
                f"delayed jobs due {overdue:.0f} s ago are not promoted: is a scheduler running?",
                stamps[0],
            )
        return Check("delayed", "ok", f"oldest delayed job due at {stamps[0]}", stamps[0])

    def _failed(self, failed: int, last: int | None) -> Check:
        hs = self.settings.health
        grown = failed - last if last is not None else 0
        status = _over(grown, hs.failed_growth_warn, hs.failed_growth_fail) if grown > 0 else "ok"
        text = f"{failed} failed job(s)"
        if grown > 0:
            text += f", {grown} new since the previous check"
        return Check("failed", status, text, failed)
