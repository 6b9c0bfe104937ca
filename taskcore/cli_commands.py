"""The one-shot commands: ``info``, ``health``, ``metrics``, ``failed``, ``enqueue``,
``dashboard`` and ``generate``. Each parses nothing itself (:mod:`taskcore.cli` does) and calls
the Queue, the task API or :mod:`taskcore.ops` / :mod:`taskcore.web`; records that cannot be
decoded are shown as such, never a crash.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from taskcore import codec
from taskcore.cli_support import UsageError, app_of, say, settings_of, storage_app
from taskcore.errors import ConfigError
from taskcore.malformed import MalformedFailure
from taskcore.tasks.api import TaskAPI

__all__ = [
    "cmd_dashboard",
    "cmd_enqueue",
    "cmd_failed",
    "cmd_generate",
    "cmd_health",
    "cmd_info",
    "cmd_metrics",
]


async def cmd_info(args: argparse.Namespace) -> int:
    from taskcore.ops.commands import info_command

    app = storage_app(args)
    return await info_command(app, args.json, args.watch)


async def cmd_health(args: argparse.Namespace) -> int:
    from taskcore.ops.commands import health_command

    app = storage_app(args)
    return await health_command(app, args.json)


async def cmd_metrics(args: argparse.Namespace) -> int:
    from taskcore.ops.commands import metrics_command

    app = storage_app(args)
    try:
        return await metrics_command(app, args.host, args.port)
    except ImportError as exc:  # the optional extra is not installed: one line saying so
        raise ConfigError(str(exc)) from exc


async def cmd_failed(args: argparse.Namespace) -> int:
    app = storage_app(args)
    await app.open()
    try:
        if args.action == "remove" and args.all and not args.index:
            say(f"removed {await app.queue.clear_failed()} failed job(s)")
            return 0
        failures = await app.queue.failed()
        if args.action == "list":
            _print_failures(failures, args.json)
            return 0
        if not args.all and not args.index:
            raise ConfigError(f"failed {args.action}: give failure INDEX(es) or --all")
        chosen = list(range(len(failures))) if args.all else args.index
        bad = [i for i in chosen if not 0 <= i < len(failures)]
        if bad:
            raise ConfigError(f"no failure at index {bad[0]} (there are {len(failures)})")
        done = 0
        for i in chosen:
            if args.action == "retry" and isinstance(failures[i], MalformedFailure):
                say(f"[{i}] is not a readable failure record: it cannot be retried, only removed")
            elif args.action == "retry":
                done += int(await app.queue.retry_and_remove_failed(failures[i]))
            else:
                done += await app.queue.remove_failed(failures[i])
        verb = "retried" if args.action == "retry" else "removed"
        say(f"{verb} {done} of {len(chosen)} failed job(s)")
        return 0
    finally:
        await app.stop()


def _failure_json(failure: codec.Failure) -> Any:
    """A failure as JSON for ``failed list --json``: the stored record parsed, or, for a record
    that cannot be decoded, ``{"malformed_record": <its text>, "reason": ...}`` (bytes that are
    not UTF-8 appear as ``\\udcXX`` escapes, losslessly)."""
    if isinstance(failure, MalformedFailure):
        return {"malformed_record": failure.raw, "reason": failure.reason}
    return json.loads(failure.raw)


def _print_failures(failures: Sequence[codec.Failure], as_json: bool) -> None:
    if as_json:
        say(json.dumps([_failure_json(f) for f in failures], indent=2))
        return
    if not failures:
        say("no failed jobs")
    for i, f in enumerate(failures):
        if isinstance(f, MalformedFailure):
            say(f"[{i}] unreadable failure record: {f.raw[:120]!r}")
            say(f"     {f.reason}")
            continue
        cls = f.payload.get("class", "?")
        args = codec.dumps(f.payload.get("args", []))
        say(f"[{i}] {f.failed_at}  {f.queue}  {cls}({args})")
        say(f"     {f.exception or 'Error'}: {f.error or ''}  (worker {f.worker})")


async def cmd_enqueue(args: argparse.Namespace) -> int:
    try:
        data = json.loads(args.args)
    except ValueError as exc:
        raise UsageError(f"--args is not valid JSON: {exc}") from exc
    if not args.raw and not args.app and not settings_of(args).tasks_paths:
        raise UsageError(
            f"enqueue {args.name!r}: give --app APP (or set tasks_paths) to enqueue a task "
            "(inputs validated, sent to the task's queue), or --raw to enqueue a raw resque job "
            "of that class"
        )
    if args.app or not args.raw:
        app = app_of(args, scheduler=False, max_workers=0, min_workers=0)
    else:
        app = storage_app(args)
    if not args.raw and args.name not in app.tasks:
        raise UsageError(
            f"{'APP ' + repr(args.app) if args.app else 'tasks_paths'} has no task named "
            f"{args.name!r} "
            f"({app.tasks.describe_known(args.name)}); pass --raw to enqueue a raw resque job "
            "for a worker that knows that class"
        )
    if not args.raw and data is not None and not isinstance(data, dict):
        raise UsageError(f"task {args.name!r} takes an inputs object as --args, e.g. '{{}}'")
    delay_ms = None if args.delay is None else int(args.delay * 1000)
    await app.open()
    try:
        if not args.raw:
            api = TaskAPI(app.queue, app.tasks)
            if delay_ms is None:
                ok = await api.enqueue(args.name, data, args.queue)
            else:
                ok = await api.enqueue_in(delay_ms, args.name, data, args.queue)
            queue = app.tasks.get(args.name).queue if args.queue is None else args.queue
        else:
            queue = "default" if args.queue is None else args.queue  # "" is refused, not replaced
            if delay_ms is None:
                ok = await app.queue.enqueue(queue, args.name, data)
            else:
                ok = await app.queue.enqueue_in(delay_ms, queue, args.name, data)
    finally:
        await app.stop()
    when = "" if delay_ms is None else f" to run in {args.delay} s"
    say(f"enqueued {args.name} on {queue!r}{when}" if ok else "not enqueued: a plugin blocked it")
    return 0 if ok else 1


async def cmd_dashboard(args: argparse.Namespace) -> int:
    try:
        from taskcore.web import serve  # the optional extra, imported on use
    except ImportError as exc:
        raise ConfigError(str(exc)) from exc
    await serve(
        settings_of(args),
        host=args.host,
        port=args.port,
        token=args.token,
        allowed_hosts=args.allowed_host,
        refresh=args.refresh,
        no_auth=args.no_auth,
    )
    return 0


async def cmd_generate(args: argparse.Namespace) -> int:
    from taskcore.tasks.generate import generate_task

    if args.path is not None:
        folder = args.path
    else:
        paths = settings_of(args).tasks_paths
        folder = paths[0] if paths else "tasks"
    written = generate_task(
        args.name, Path(folder), queue=args.queue, frequency=args.frequency, cron=args.cron
    )
    say(f"wrote {written.module}")
    say(f"wrote {written.test}  (run: pytest {written.test})")
    if args.path is None and not settings_of(args).tasks_paths:
        say(f'set tasks_paths = ["{folder}"] in taskcore.toml so `taskcore run` finds it')
    return 0
