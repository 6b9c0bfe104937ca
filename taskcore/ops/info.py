"""What ``taskcore info`` shows: queues, delayed jobs, workers (busy or idle), stats, failures.

:func:`gather` reads everything through :class:`~taskcore.queue.Queue` and returns a JSON-ready
dict; :func:`render` turns it into the text table. A record that cannot be decoded (hostile or
corrupt storage) is shown as such (``"undecodable"`` with the start of its text), never raised.

Keys of :func:`gather` (``--json``): ``queues`` ``{name: {"length": n}}``; ``delayed``
``{"count": n, "timestamps": n, "oldest_due": unix seconds | None}``; ``workers`` (the raw
``Queue.all_working_on``), ``workers_registered`` ``{name: "q1,q2"}``, ``worker_status``
``{name: {"state": "busy"|"idle"|"undecodable", "queue", "class", "since"}}``, ``busy`` and
``idle`` counts; ``stats``; ``failed`` (the failed list's length); ``leader``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TextIO

from taskcore.clock import Clock, SystemClock
from taskcore.codec import parse_date
from taskcore.errors import InvalidArgument, MalformedPayload
from taskcore.events import sleep_or_stop
from taskcore.ops.logs import clean
from taskcore.units import Duration, seconds

if TYPE_CHECKING:
    from taskcore.queue import Queue

__all__ = ["gather", "render", "watch", "worker_state"]

CLEAR = "\x1b[H\x1b[2J"
"""ANSI: cursor home, clear screen (``--watch`` redraws in place)."""


def worker_state(record: Any, now: float) -> dict[str, Any]:
    """``{"state", "queue", "class", "since", "running"}`` of one ``all_working_on`` value."""
    if isinstance(record, str):
        return {"state": "idle"}
    if not isinstance(record, dict):
        return {"state": "undecodable", "record": clean(record, 120)}
    payload = record.get("payload")
    queue = record.get("queue")
    if not isinstance(payload, dict) or "malformed_payload" in payload:
        text = payload.get("malformed_payload") if isinstance(payload, dict) else payload
        return {"state": "undecodable", "queue": queue, "record": clean(text, 120)}
    run_at = record.get("run_at")
    since = parse_date(run_at) if isinstance(run_at, str) else None
    state: dict[str, Any] = {"state": "busy", "queue": queue, "class": payload.get("class")}
    state["since"] = since
    state["running"] = None if since is None else max(0.0, now - since)
    return state


async def _working_on(queue: Queue) -> dict[str, Any]:
    try:
        return dict(await queue.all_working_on())
    except MalformedPayload:
        pass
    # One record the driver could not read: ask worker by worker, marking the bad one.
    result: dict[str, Any] = {}
    for worker in await queue.backend.list_workers():
        try:
            raw = await queue.working_on(worker.name, worker.queues)
        except MalformedPayload as exc:
            result[worker.name] = {"payload": {"malformed_payload": str(exc)}}
            continue
        result[worker.name] = "started" if raw is None else _loads(raw)
    return result


def _loads(raw: str) -> Any:
    import json

    try:
        return json.loads(raw)
    except ValueError:
        return {"payload": {"malformed_payload": raw}}


async def gather(queue: Queue, now: float | None = None) -> dict[str, Any]:
    """Everything ``taskcore info`` shows (see the module docstring); ``now`` in seconds.

    Starts from ``Queue.details()`` (so a ``resque_overrides`` Queue adds its own keys) and
    adds the delayed jobs, worker states and the failed count.
    """
    now = time.time() if now is None else now
    try:
        data = dict(await queue.details())
    except MalformedPayload:
        data = {
            "queues": {q: {"length": await queue.length(q)} for q in await queue.queues()},
            "workers": await _working_on(queue),
            "stats": await queue.stats(),
            "leader": await queue.leader(),
        }
    stamps = await queue.backend.delayed_timestamps()
    count = await queue.delayed_count()
    oldest = min(stamps, default=None)
    data["delayed"] = {"count": count, "timestamps": len(stamps), "oldest_due": oldest}
    status = {name: worker_state(record, now) for name, record in data["workers"].items()}
    data["worker_status"] = status
    data["busy"] = sum(1 for s in status.values() if s["state"] == "busy")
    data["idle"] = sum(1 for s in status.values() if s["state"] == "idle")
    data["workers_registered"] = await queue.workers()
    data["failed"] = await queue.failed_count()
    return data


def _when(ts: float | None, now: float) -> str:
    if ts is None:
        return "-"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
    delta = ts - now
    return (
        f"{stamp} ({'in ' if delta >= 0 else ''}{abs(delta):.0f} s{'' if delta >= 0 else ' ago'})"
    )


def render(info: dict[str, Any], header: str, now: float | None = None) -> str:
    """The text table of :func:`gather`'s ``info``, below ``header`` (the storage line)."""
    now = time.time() if now is None else now
    lines = [header, f"leader:   {clean(info.get('leader') or '-')}"]
    lines.append("queues:" if info["queues"] else "queues:   (none)")
    for name, q in sorted(info["queues"].items()):
        lines.append(f"  {clean(name, 60):<30} {q['length']:>8} waiting")
    delayed = info["delayed"]
    lines.append(
        f"delayed:  {delayed['count']} job(s); oldest due {_when(delayed['oldest_due'], now)}"
    )
    registered = info["workers_registered"]
    lines.append(
        f"workers:  {len(registered)} registered, {info['busy']} busy, {info['idle']} idle"
    )
    for name, queues in sorted(registered.items()):
        s = info["worker_status"].get(name, {"state": "idle"})
        if s["state"] == "busy":
            running = "" if s.get("running") is None else f" for {s['running']:.0f} s"
            doing = f"busy: {clean(s.get('class'), 60)} from {clean(s.get('queue'), 40)}{running}"
        elif s["state"] == "undecodable":
            doing = f"undecodable current-job record: {s.get('record')}"
        else:
            doing = "idle"
        lines.append(f"  {clean(name, 60):<30} {clean(queues, 40):<20} {doing}")
    lines.append("stats:" if info["stats"] else "stats:    (none)")
    for key, value in sorted(info["stats"].items()):
        if ":" not in key:
            lines.append(f"  {clean(key, 60):<30} {value:>8}")
    lines.append(f"failed:   {info['failed']}")
    return "\n".join(lines)


async def watch(
    snapshot: Callable[[], Awaitable[str]],
    interval: Duration,
    out: TextIO,
    *,
    stop: asyncio.Event | None = None,
    clock: Clock | None = None,
    refreshes: int | None = None,
) -> int:
    """Redraw ``await snapshot()`` in place (screen cleared first) every ``interval`` seconds
    (a number or a timedelta; > 0) until ``stop`` is set, ``refreshes`` frames have been drawn
    (None: no limit), or the task is cancelled (e.g. by Ctrl-C). Waits on ``clock`` (default
    the system clock; a FakeClock in tests). Returns the number of frames drawn.
    """
    every = seconds(interval, "--watch", inclusive=False)
    if refreshes is not None and refreshes < 1:
        raise InvalidArgument(f"refreshes={refreshes!r}: draw at least 1 frame (or None)")
    clock = clock if clock is not None else SystemClock()
    stop = stop if stop is not None else asyncio.Event()
    drawn = 0
    while not stop.is_set():
        text = await snapshot()
        out.write(f"{CLEAR}{text}\n\n(refreshing every {every:g} s; Ctrl-C to stop)\n")
        out.flush()
        drawn += 1
        if refreshes is not None and drawn >= refreshes:
            break
        if await sleep_or_stop(clock, every, stop):
            break
    return drawn
