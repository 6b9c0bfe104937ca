"""What the dashboard shows, read through a :class:`~taskcore.queue.Queue` and its Backend API.

Every record read from storage is hostile: it may not be JSON, may not be a resque job, may
hold bytes that are not UTF-8 (lone surrogates, see ``Capabilities.binary_payloads``) or be
huge. Each reader here decodes record by record, so one unreadable record becomes a row showing
its raw text (:func:`display`) instead of an error that hides the whole page. Raw records are
read through ``queue.backend`` (the Backend protocol, never a driver): the page needs each
record's exact text, to show an unreadable one as it is and to name every one by its digest
(below), not only the decoded job the Queue's list methods give.

Records are identified in forms by :func:`digest` (a hash of their exact bytes) plus their
index, so an action never hits a different record after the list shifted under the user.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from typing import Any

from taskcore import codec
from taskcore.backend import CurrentJob, WorkerId
from taskcore.errors import MalformedPayload
from taskcore.queue import Queue

__all__ = [
    "DelayedRow",
    "FailedRow",
    "JobRow",
    "Page",
    "WorkerRow",
    "delayed_page",
    "digest",
    "display",
    "failed_page",
    "find_failure",
    "overview",
    "queue_page",
    "workers",
]

MAX_TEXT = 4000
"""Characters of one record shown before it is cut (the rest is counted, not shown)."""

DELAYED_COUNT_LIMIT = 1000
"""Timestamps read to count delayed jobs; past it the overview shows timestamps only."""


def display(value: Any, limit: int = MAX_TEXT) -> str:
    """``value`` as printable text: JSON for structures, invalid UTF-8 bytes as ``\\xNN``
    escapes, cut after ``limit`` characters with the number left out appended."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = codec.dumps(value)
        except (TypeError, ValueError):
            text = repr(value)
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if len(text) > limit:
        return f"{text[:limit]}… ({len(text) - limit} more characters)"
    return text


def digest(raw: str) -> str:
    """A short, stable identifier of a record's exact bytes (used in forms)."""
    return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: 1-based ``number`` of ``count`` pages, ``total`` items."""

    number: int
    size: int
    total: int

    @property
    def start(self) -> int:
        return (self.number - 1) * self.size

    @property
    def stop(self) -> int:
        return self.start + self.size - 1

    @property
    def count(self) -> int:
        return max(1, -(-self.total // self.size))


def make_page(number: int, size: int, total: int) -> Page:
    """A page clamped into range (page 1 of an empty list exists)."""
    last = max(1, -(-total // size))
    return Page(min(max(1, number), last), size, total)


@dataclass(frozen=True, slots=True)
class StoredRow:
    """A record as storage holds it, at ``index`` in its list: ``raw`` byte for byte."""

    index: int
    raw: str

    @property
    def id(self) -> str:
        """The record's :func:`digest`, which an action posts back to find it again."""
        return digest(self.raw)

    @property
    def text(self) -> str:
        """The raw record as display text."""
        return display(self.raw)


@dataclass(frozen=True, slots=True)
class JobRow(StoredRow):
    """A queued or delayed job: decoded when possible, else ``error`` says why."""

    class_name: str | None
    args: str
    error: str | None
    queue: str = ""


def job_row(index: int, raw: str, queue: str = "") -> JobRow:
    try:
        job = codec.decode_job(raw, queue)
    except MalformedPayload as exc:
        return JobRow(index, raw, None, "", display(str(exc), 300))
    return JobRow(index, raw, display(job.class_name, 200), display(job.args), None, job.queue)


async def queue_page(queue: Queue, name: str, number: int, size: int) -> tuple[Page, list[JobRow]]:
    """Page ``number`` of the jobs waiting in queue ``name``, head first."""
    page = make_page(number, size, await queue.length(name))
    raws = await queue.backend.queue_range(name, page.start, page.stop)
    return page, [job_row(page.start + i, raw, name) for i, raw in enumerate(raws)]


@dataclass(frozen=True, slots=True)
class DelayedRow:
    """The jobs due at ``timestamp`` (whole unix seconds)."""

    timestamp: int
    jobs: list[JobRow]

    @property
    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.timestamp))


async def delayed_page(queue: Queue, number: int, size: int) -> tuple[Page, list[DelayedRow]]:
    """Page ``number`` of the delayed timestamps (``size`` timestamps a page), soonest first,
    each with every job due then."""
    stamps = await queue.backend.delayed_timestamps()
    page = make_page(number, size, len(stamps))
    if page.start >= len(stamps):
        return page, []
    # the page's timestamps with their jobs in one round trip, not one per timestamp
    listed = await queue.backend.delayed_page(stamps[page.start] - 1, size)
    rows = [DelayedRow(ts, [job_row(i, raw) for i, raw in enumerate(raws)]) for ts, raws in listed]
    return page, rows


@dataclass(frozen=True, slots=True)
class FailedRow(StoredRow):
    """One failure record: decoded fields when readable, else only ``raw`` and ``error``."""

    failure: codec.Failure | None
    error: str | None = None

    @property
    def retryable(self) -> bool:
        if self.failure is None:
            return False
        try:
            _ = self.failure.job
        except MalformedPayload:
            return False
        return True

    def show(self, name: str) -> str:
        """A field of the decoded failure as display text ("" when absent)."""
        if self.failure is None:
            return ""
        if name == "class":
            return display(self.failure.payload.get("class", "?"), 200)
        if name == "args":
            return display(self.failure.payload.get("args", []))
        if name == "backtrace":
            return display("\n".join(self.failure.backtrace or []))
        return display(getattr(self.failure, name) or "")


def failed_row(index: int, raw: str) -> FailedRow:
    try:
        return FailedRow(index, raw, codec.decode_failure(raw))
    except (MalformedPayload, UnicodeError) as exc:
        return FailedRow(index, raw, None, display(str(exc), 300))


async def failed_page(queue: Queue, number: int, size: int) -> tuple[Page, list[FailedRow]]:
    """Page ``number`` of the failed list, oldest first."""
    page = make_page(number, size, await queue.failed_count())
    raws = await queue.backend.failures(page.start, page.stop)
    return page, [failed_row(page.start + i, raw) for i, raw in enumerate(raws)]


async def find_failure(queue: Queue, record_id: str, index: int, window: int = 200) -> str | None:
    """The raw failure whose :func:`digest` is ``record_id``, looked for around ``index`` (the
    list may have shifted since the page was drawn), or None when it is gone."""
    start = max(0, index - window)
    for raw in await queue.backend.failures(start, index + window):
        if digest(raw) == record_id:
            return raw
    return None


@dataclass(frozen=True, slots=True)
class WorkerRow:
    """A registered worker and what it works on (``job`` None when idle)."""

    name: str
    queues: str
    started: int | None
    ping: int | None
    job: JobRow | None = None
    run_at: str = ""
    run_for: float | None = None
    error: str | None = None

    @property
    def state(self) -> str:
        if self.error:
            return "unreadable"
        return "idle" if self.job is None else "busy"


async def _current_jobs(queue: Queue) -> dict[WorkerId, CurrentJob | str | None]:
    """Every worker's current job; an unreadable record becomes its error text."""
    try:
        return dict(await queue.backend.current_jobs())
    except MalformedPayload:
        pass  # one bad record: read them one by one to show the others
    result: dict[WorkerId, CurrentJob | str | None] = {}
    for worker in await queue.backend.list_workers():
        try:
            result[worker] = await queue.backend.current_job(worker)
        except MalformedPayload as exc:
            result[worker] = display(str(exc), 300)
    return result


async def workers(queue: Queue) -> list[WorkerRow]:
    """Every registered worker with its heartbeat, start time and current job; run times in
    seconds from ``queue.clock``."""
    now = queue.clock.now()
    pings = {p.name: p.time for p in await queue.backend.worker_pings()}
    rows = []
    for worker, current in sorted((await _current_jobs(queue)).items(), key=lambda i: i[0].member):
        started = await queue.backend.worker_started(worker)
        base = WorkerRow(worker.name, worker.queues_str, started, pings.get(worker.name))
        if isinstance(current, str):
            rows.append(replace(base, error=current))
        elif current is not None:
            since = codec.parse_date(current.run_at)
            rows.append(
                replace(
                    base,
                    job=job_row(0, current.payload, current.queue),
                    run_at=display(current.run_at, 100),
                    run_for=None if since is None else max(0.0, now - since),
                )
            )
        else:
            rows.append(base)
    return rows


async def overview(queue: Queue) -> dict[str, Any]:
    """The overview's facts: ``stats``, ``queues`` ``{name: length}``, ``workers``/``busy``,
    ``delayed`` (jobs, None past :data:`DELAYED_COUNT_LIMIT` timestamps), ``delayed_timestamps``,
    ``failed``, ``leader``, ``locks`` (how many)."""
    names = await queue.queues()
    queues = {name: await queue.length(name) for name in names}
    stamps = await queue.backend.delayed_timestamps()
    delayed: int | None = None
    if len(stamps) <= DELAYED_COUNT_LIMIT:
        page = await queue.backend.delayed_page(None, DELAYED_COUNT_LIMIT)  # one round trip
        delayed = sum(len(payloads) for _, payloads in page)
    rows = await workers(queue)
    stats = await queue.stats()
    return {
        "stats": {k: v for k, v in sorted(stats.items()) if ":" not in k},
        "queues": queues,
        "workers": len(rows),
        "busy": sum(1 for r in rows if r.job is not None),
        "delayed": delayed,
        "delayed_timestamps": len(stamps),
        "failed": await queue.failed_count(),
        "leader": await queue.leader(),
        "locks": len(await queue.locks()),
    }
