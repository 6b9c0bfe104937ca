"""The bodies of the operations commands of the CLI: ``health``, ``info``, ``metrics``.

:mod:`taskcore.cli` only parses arguments and calls these. Each opens its own
:class:`~taskcore.app.App` with no workers and no scheduler, reads through its Queue, and closes
it. Exit codes: ``health`` 0 ok / 1 warn / 2 fail (storage unreachable at open included);
the others 0, or 1 with a one-line error from the CLI.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING, TextIO

from taskcore.errors import BackendError
from taskcore.ops.health import Check, HealthReport, verdict
from taskcore.ops.settings import as_seconds
from taskcore.units import seconds

if TYPE_CHECKING:
    from taskcore.app import App
    from taskcore.clock import Clock
    from taskcore.config import Settings

__all__ = ["health_command", "info_command", "metrics_command"]


def _print_report(report: HealthReport, as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
        return
    out.write(f"{report.status.upper()}\n")
    for check in report.checks:
        mark = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}[check.status]
        out.write(f"  {mark} {check.name:<20} {check.message}\n")


async def health_command(app: App, as_json: bool, out: TextIO | None = None) -> int:
    """Print the verdict of ``app.health()`` and return its exit code (0/1/2)."""
    out = out if out is not None else sys.stdout
    try:
        async with asyncio.timeout(as_seconds(app.settings.health.timeout)):
            await app.open()
    except (BackendError, OSError, TimeoutError) as exc:
        message = f"storage unreachable at {app.settings.safe_url}: {type(exc).__name__}: {exc}"
        if isinstance(exc, TimeoutError):
            message = f"storage at {app.settings.safe_url} did not answer within the timeout"
        report = verdict([Check("storage", "fail", message)], 0.0, None)
    else:
        try:
            report = await app.health()
        finally:
            await app.stop()
    _print_report(report, as_json, out)
    out.flush()
    return report.exit_code


async def info_command(
    app: App,
    as_json: bool,
    watch: float | None,
    out: TextIO | None = None,
    *,
    clock: Clock | None = None,
    refreshes: int | None = None,
) -> int:
    """Print ``taskcore info`` once, or redraw it in place every ``watch`` seconds until
    interrupted (or ``refreshes`` frames; waiting on ``clock``, the system clock by default)."""
    from taskcore.ops.info import gather, render
    from taskcore.ops.info import watch as watch_loop

    out = out if out is not None else sys.stdout
    settings: Settings = app.settings
    header = f"storage:  {settings.safe_url}  namespace {settings.namespace!r}"
    if watch is not None:
        seconds(watch, "--watch", inclusive=False)  # refused before storage is opened
    await app.open()
    try:
        if watch is None:
            data = await gather(app.queue)
            text = json.dumps(data, indent=2, sort_keys=True, default=str) if as_json else None
            out.write((text if text is not None else render(data, header)) + "\n")
            return 0

        async def snapshot() -> str:
            return render(await gather(app.queue), header)

        await watch_loop(snapshot, watch, out, clock=clock, refreshes=refreshes)
        return 0
    finally:
        await app.stop()


async def metrics_command(app: App, host: str, port: int, out: TextIO | None = None) -> int:
    """Serve the metrics of ``app``'s storage at ``http://host:port/metrics`` until stopped."""
    from taskcore.events import install_stop_signals, remove_stop_signals
    from taskcore.ops.metrics import metrics_app
    from taskcore.ops.serve import serve

    out = out if out is not None else sys.stdout
    await app.open()
    stop = asyncio.Event()
    installed = install_stop_signals(stop.set)
    try:
        server = await serve(metrics_app(lambda: app.queue), host, port)
        bound = server.sockets[0].getsockname()[1]
        out.write(f"taskcore: metrics at http://{host}:{bound}/metrics; Ctrl-C to stop\n")
        out.flush()
        try:
            await stop.wait()
        finally:
            server.close()
            await server.wait_closed()
        return 0
    finally:
        remove_stop_signals(installed)
        await app.stop()
