"""Log lines for what workers, pools and schedulers do, through the standard :mod:`logging`.

The library installs no handler (only a :class:`logging.NullHandler` on ``"taskcore"``); the
CLI configures them (:mod:`taskcore.ops.logformat`). Loggers:

* ``taskcore.worker``: one line per job outcome (``success`` with its duration, ``failure``
  with the error class and message and the traceback, ``re_enqueue`` when the Retry plugin
  schedules another attempt, ``skipped`` when a before_perform hook stopped the job), worker
  ``start``/``end``, and at DEBUG ``job``/``poll``/``pause``/``ping``;
* ``taskcore.multiworker``: the pool's sizing decisions (``multi_worker_action``);
* ``taskcore.scheduler``: ``start``/``end``, ``leader`` gained, ``leader_lost``, promoted
  delayed jobs (``transferred_job``: one line per poll that promoted any, with a count per
  queue; each job at DEBUG), ``clean_stuck_worker``, ``clock_skew`` (a worker pinging from the
  future), and at DEBUG ``poll`` (one line at the end of each poll as leader, with its
  ``promoted`` and ``cleaned`` counts and its ``duration``);
* ``taskcore.storage``: each storage outage (the first
  :class:`~taskcore.errors.BackendUnavailable` of a worker or scheduler, ERROR) and its end
  (the next event proving a storage call succeeded, WARNING, with the outage's length).

The level of each event comes from ``Settings.worker_logging``/``scheduler_logging``
(:mod:`taskcore.ops.settings`); ``off`` silences it. Every record carries a ``taskcore``
attribute, a dict of stable fields (``event``, ``worker``, ``queue``, ``class``, ``duration``
in seconds, ``error``, ...) that the JSON format writes as keys. Job args and results are
logged only with ``Settings.log_job_args``; the class, queue and a failure's error always.

The worker and scheduler lines follow their own events (``skipped``, ``leader_lost`` and
``poll_done`` included), so they are exact. Derived from the events: an outage ends at the next
worker ``pause``/``job``/``ping`` or scheduler ``poll``/``leader``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from taskcore.codec import Job, dumps
from taskcore.errors import BackendUnavailable
from taskcore.ops.settings import level_number
from taskcore.ops.stats import PROCESS, ProcessStats, Subscribe, watch_scheduler, watch_workers

if TYPE_CHECKING:
    from taskcore.app import App
    from taskcore.config import Settings

__all__ = ["OutageTracker", "SchedulerLog", "WorkerLog", "clean", "observe_app"]

logging.getLogger("taskcore").addHandler(logging.NullHandler())

worker_log = logging.getLogger("taskcore.worker")
pool_log = logging.getLogger("taskcore.multiworker")
scheduler_log = logging.getLogger("taskcore.scheduler")
storage_log = logging.getLogger("taskcore.storage")

_MAX_TEXT = 300


def clean(value: Any, limit: int = _MAX_TEXT) -> str:
    """``value`` as one printable line of at most ``limit`` characters (control characters
    escaped): text from payloads and errors must not forge extra log lines."""
    text = str(value)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _emit(
    logger: logging.Logger,
    level: int | None,
    event: str,
    message: str,
    fields: dict[str, Any],
    exc: BaseException | None = None,
) -> None:
    if level is None or not logger.isEnabledFor(level):
        return
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    logger.log(level, message, exc_info=exc_info, extra={"taskcore": {"event": event, **fields}})


def _class_of(job: Any) -> str:
    """A job's class, or ``<malformed>`` for an undecodable payload (None, a raw string, or a
    job with no class)."""
    return job.class_name if isinstance(job, Job) and job.class_name else "<malformed>"


def _error_text(exc: BaseException) -> str:
    return clean(f"{type(exc).__name__}: {exc}")


class OutageTracker:
    """One storage outage at a time: logs its start once and its end once."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.failed_calls = 0

    def error(self, exc: BaseException, source: str) -> bool:
        """Note a storage error seen by ``source``; False if ``exc`` is not an outage."""
        if not isinstance(exc, BackendUnavailable):
            return False
        self.failed_calls += 1
        if self.since is None:
            self.since = time.monotonic()
            _emit(
                storage_log,
                logging.ERROR,
                "storage_down",
                f"storage unreachable ({clean(source)}): {_error_text(exc)}; retrying",
                {"source": source, "error": _error_text(exc), "error_class": type(exc).__name__},
            )
        else:
            _emit(
                storage_log,
                logging.DEBUG,
                "storage_error",
                f"storage still unreachable ({clean(source)}): {_error_text(exc)}",
                {"source": source, "error": _error_text(exc)},
            )
        return True

    def ok(self, source: str) -> None:
        """A storage call of ``source`` succeeded: ends the outage, if any."""
        if self.since is None:
            return
        seconds = time.monotonic() - self.since
        calls, self.since, self.failed_calls = self.failed_calls, None, 0
        _emit(
            storage_log,
            logging.WARNING,
            "storage_up",
            f"storage reachable again after {seconds:.1f} s ({calls} failed call(s); "
            f"noticed by {clean(source)})",
            {"source": source, "duration": round(seconds, 3), "failed_calls": calls},
        )


class WorkerLog:
    """Log lines for one Worker (``name`` given) or one MultiWorker (``name`` None: child
    events carry the child's name first)."""

    def __init__(
        self,
        levels: dict[str, str],
        *,
        job_args: bool = False,
        name: str | None = None,
        outage: OutageTracker | None = None,
    ) -> None:
        self.levels = {event: level_number(level) for event, level in levels.items()}
        self.job_args = job_args
        self.name = name
        self.outage = outage or OutageTracker()

    def attach(self, subscribe: Subscribe) -> None:
        """Subscribe to every worker event (``subscribe``: the emitter's ``on``)."""
        for event in ("start", "end", "poll", "job", "success", "failure", "skipped", "error"):
            subscribe(event, self._handler(event))
        for event in ("pause", "ping", "re_enqueue"):
            subscribe(event, self._handler(event))
        subscribe("multi_worker_action", self._pool_action)

    def _handler(self, event: str) -> Callable[..., None]:
        method: Callable[..., None] = getattr(self, f"_on_{event}")

        def handle(*args: Any) -> None:
            if self.name is not None:
                method(self.name, *args)
            elif event == "error" and len(args) == 1:
                self._pool_error(args[0])
            else:
                method(*args)

        return handle

    def _off(self, event: str) -> bool:
        """True when ``event``'s line would not be logged: its fields are then not built (the
        job events run once per job)."""
        level = self.levels[event]
        return level is None or not worker_log.isEnabledFor(level)

    def _job_fields(self, worker: str, queue: str, job: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {"worker": worker, "queue": queue}
        fields["class"] = _class_of(job)
        if self.job_args and isinstance(job, Job):
            fields["args"] = job.args
        return fields

    def _describe(self, fields: dict[str, Any]) -> str:
        """``cls on 'queue'``, or ``cls(arg, ...) on 'queue'`` with job args logged."""
        call = clean(fields["class"])
        if "args" in fields:
            call += f"({clean(', '.join(dumps(a) for a in fields['args']))})"
        return f"{call} on {clean(fields['queue'])!r}"

    def _on_skipped(self, worker: str, queue: str, job: Any, duration: float) -> None:
        if self._off("skipped"):
            return
        fields = self._job_fields(worker, queue, job)
        fields["duration"] = round(duration, 6)
        message = f"{self._describe(fields)} skipped by a before_perform hook (worker {worker})"
        _emit(worker_log, self.levels["skipped"], "skipped", message, fields)

    def _active(self, worker: str) -> None:
        self.outage.ok(f"worker {worker}")

    def _on_start(self, worker: str, now: float) -> None:
        self._active(worker)
        _emit(
            worker_log,
            self.levels["start"],
            "start",
            f"worker {worker} started",
            {"worker": worker},
        )

    def _on_end(self, worker: str, now: float) -> None:
        _emit(worker_log, self.levels["end"], "end", f"worker {worker} stopped", {"worker": worker})

    def _on_poll(self, worker: str, queues: str) -> None:
        if self._off("poll"):
            return
        message = f"worker {worker} polling {clean(queues) or '(no queues)'}"
        _emit(
            worker_log, self.levels["poll"], "poll", message, {"worker": worker, "queues": queues}
        )

    def _on_pause(self, worker: str) -> None:
        self._active(worker)
        _emit(
            worker_log, self.levels["pause"], "pause", f"worker {worker} idle", {"worker": worker}
        )

    def _on_ping(self, worker: str, seconds: int) -> None:
        self._active(worker)
        _emit(
            worker_log, self.levels["ping"], "ping", f"worker {worker} pinged", {"worker": worker}
        )

    def _on_job(self, worker: str, queue: str, job: Any) -> None:
        self._active(worker)
        if self._off("job"):
            return
        fields = self._job_fields(worker, queue, job)
        message = f"worker {worker} took {self._describe(fields)}"
        _emit(worker_log, self.levels["job"], "job", message, fields)

    def _on_success(self, worker: str, queue: str, job: Any, result: Any, duration: float) -> None:
        if self._off("success"):
            return
        fields = self._job_fields(worker, queue, job)
        fields["duration"] = round(duration, 6)
        message = f"{self._describe(fields)} succeeded in {duration * 1000:.1f} ms"
        if self.job_args:
            fields["result"] = clean(repr(result))
            message += f" -> {fields['result']}"
        _emit(worker_log, self.levels["success"], "success", f"{message} (worker {worker})", fields)

    def _on_failure(
        self, worker: str, queue: str, job: Any, error: BaseException, duration: float
    ) -> None:
        if self._off("failure"):
            return
        fields = self._job_fields(worker, queue, job)
        fields.update(duration=round(duration, 6), error=_error_text(error))
        fields["error_class"] = type(error).__name__
        message = (
            f"{self._describe(fields)} failed after {duration * 1000:.1f} ms: "
            f"{fields['error']} (worker {worker})"
        )
        _emit(worker_log, self.levels["failure"], "failure", message, fields, error)

    def _on_re_enqueue(self, worker: str, queue: str, job: Any, info: Any) -> None:
        if self._off("re_enqueue"):
            return
        fields = self._job_fields(worker, queue, job)
        info = info if isinstance(info, dict) else {}
        error = info.get("error")
        delay = info.get("delay")
        fields.update(
            error=_error_text(error) if isinstance(error, BaseException) else clean(error),
            delay=delay / 1000 if isinstance(delay, int | float) else None,
            remaining_attempts=info.get("remaining_attempts"),
        )
        message = (
            f"{self._describe(fields)} failed ({fields['error']}); retry in "
            f"{fields['delay']:g} s, {fields['remaining_attempts']} attempt(s) left "
            f"(worker {worker})"
            if fields["delay"] is not None
            else f"{self._describe(fields)} failed ({fields['error']}); retry scheduled"
        )
        _emit(worker_log, self.levels["re_enqueue"], "re_enqueue", message, fields)

    def _on_error(self, worker: str, error: BaseException, queue: Any, job: Any) -> None:
        if self.outage.error(error, f"worker {worker}"):
            return
        fields = {"worker": worker, "error": _error_text(error)}
        fields["error_class"] = type(error).__name__
        message = f"worker {worker}: {fields['error']}"
        _emit(worker_log, self.levels["error"], "error", message, fields, error)

    def _pool_error(self, error: BaseException) -> None:
        if self.outage.error(error, "worker pool"):
            return
        fields = {"error": _error_text(error), "error_class": type(error).__name__}
        _emit(
            pool_log,
            self.levels["error"],
            "error",
            f"worker pool: {fields['error']}",
            fields,
            error,
        )

    def _pool_action(self, verb: str, lag: float) -> None:
        what = {"+": "starting a worker", "-": "stopping a worker"}.get(verb, "keeping its size")
        _emit(
            pool_log,
            self.levels["multi_worker_action"],
            "multi_worker_action",
            f"worker pool: {what} (event loop lag {lag * 1000:.1f} ms)",
            {"verb": verb, "lag": round(lag, 6)},
        )


class SchedulerLog:
    """Log lines for one Scheduler (``name()`` reads its live name), one per event it emits:
    nothing here is guessed from the order of events."""

    def __init__(
        self,
        levels: dict[str, str],
        *,
        name: Callable[[], str],
        outage: OutageTracker | None = None,
    ) -> None:
        self.levels = {event: level_number(level) for event, level in levels.items()}
        self.name = name
        self.outage = outage or OutageTracker()
        self.leading = False
        self._promoted: Counter[str] = Counter()

    def attach(self, subscribe: Subscribe) -> None:
        """Subscribe to every scheduler event (``subscribe``: the emitter's ``on``)."""
        for event in ("start", "end", "poll", "leader", "leader_lost", "transferred_job"):
            subscribe(event, getattr(self, f"_on_{event}"))
        for event in ("poll_done", "clean_stuck_worker", "clock_skew", "error"):
            subscribe(event, getattr(self, f"_on_{event}"))

    def _line(self, event: str, message: str, **fields: Any) -> None:
        name = self.name()
        _emit(
            scheduler_log,
            self.levels[event],
            event,
            f"scheduler {name} {message}",
            {"scheduler": name, **fields},
        )

    def _on_start(self) -> None:
        self._line("start", "started")

    def _on_end(self) -> None:
        self.flush()
        was, self.leading = self.leading, False
        self._line("end", "stopped" + (" and released leadership" if was else ""))

    def _on_poll(self) -> None:
        self.outage.ok(f"scheduler {self.name()}")

    def _on_leader(self) -> None:
        self.outage.ok(f"scheduler {self.name()}")
        self.leading = True
        self._line("leader", "became the leader")

    def _on_leader_lost(self) -> None:
        self.leading = False
        self._line(
            "leader_lost",
            "is no longer the leader (the lock is held by another scheduler or expired); "
            "it tries again at its next poll",
        )

    def _on_transferred_job(self, timestamp: int, job: Any) -> None:
        queue = job.queue if isinstance(job, Job) and job.class_name else "<malformed>"
        name = _class_of(job)
        self._promoted[queue] += 1
        if scheduler_log.isEnabledFor(logging.DEBUG):
            _emit(
                scheduler_log,
                logging.DEBUG,
                "transferred_job",
                f"promoted {clean(name)} to {clean(queue)!r} (due at {timestamp})",
                {"queue": queue, "class": name, "timestamp": timestamp},
            )

    def _on_poll_done(self, promoted: int, cleaned: int, duration: float) -> None:
        self.flush()
        self._line(
            "poll",
            f"polled as leader in {duration * 1000:.1f} ms: promoted {promoted} delayed job(s), "
            f"cleaned {cleaned} stuck worker(s)",
            promoted=promoted,
            cleaned=cleaned,
            duration=round(duration, 6),
        )

    def flush(self) -> None:
        """Log the jobs promoted since the last flush as one line (a count per queue): at the
        end of each poll, or at an outage or the end when a poll could not finish."""
        if not self._promoted:
            return
        counts, self._promoted = dict(self._promoted), Counter()
        total = sum(counts.values())
        per_queue = ", ".join(f"{clean(q)} {n}" for q, n in sorted(counts.items()))
        self._line(
            "transferred_job",
            f"promoted {total} due delayed job(s): {per_queue}",
            count=total,
            queues=counts,
        )

    def _on_clean_stuck_worker(self, worker: str, failures: Any, age: Any) -> None:
        jobs = len(failures) if isinstance(failures, list) else 0
        self._line(
            "clean_stuck_worker",
            f"cleaned stuck worker {clean(worker)} (no ping for {age} s); "
            f"{jobs} job(s) it held moved to the failed list",
            worker=worker,
            age=age,
            jobs=jobs,
        )

    def _on_clock_skew(self, worker: str, seconds_ahead: float) -> None:
        self._line(
            "clock_skew",
            f"sees worker {clean(worker)} ping {seconds_ahead:.0f} s in the future of the storage "
            "clock; it is not judged dead for that: check that machine's clock (or give it a "
            "StorageClock)",
            worker=worker,
            seconds_ahead=round(seconds_ahead, 3),
        )

    def _on_error(self, error: BaseException, *_: Any) -> None:
        if self.outage.error(error, f"scheduler {self.name()}"):
            self.flush()
            return
        _emit(
            scheduler_log,
            self.levels["error"],
            "error",
            f"scheduler {self.name()}: {_error_text(error)}",
            {"scheduler": self.name(), "error": _error_text(error)},
            error,
        )


def observe_app(app: App, stats: ProcessStats = PROCESS) -> None:
    """Attach logging and the process metrics to ``app``'s workers and scheduler (through
    ``App.on``, so they are attached whenever the App builds them)."""
    settings: Settings = app.settings
    outage = OutageTracker()

    def scheduler_name() -> str:
        return app.scheduler.name if app.scheduler is not None else str(app.name or "scheduler")

    sched = SchedulerLog(settings.scheduler_logging, name=scheduler_name, outage=outage)
    workers = WorkerLog(settings.worker_logging, job_args=settings.log_job_args, outage=outage)

    def on_worker(event: str, handler: Callable[..., Any]) -> None:
        app.on(f"worker.{event}", handler)

    def on_scheduler(event: str, handler: Callable[..., Any]) -> None:
        app.on(f"scheduler.{event}", handler)

    workers.attach(on_worker)
    sched.attach(on_scheduler)
    watch_workers(on_worker, stats, pool=True)
    watch_scheduler(on_scheduler, stats)
