"""The ``taskcore`` command line.

::

    taskcore demo                          # everything in one process, on the in-memory driver
    taskcore run myapp.tasks:tasks         # workers + scheduler (APP: an App or a TaskRegistry)
    taskcore run                           # the same, tasks discovered from tasks_paths
    taskcore worker myapp.tasks:tasks      # workers only
    taskcore scheduler myapp.tasks:tasks   # scheduler only
    taskcore info [--json]
    taskcore failed list|retry|remove [INDEX ...] [--all]
    taskcore enqueue NAME --app APP [--args JSON] [--queue Q] [--in SECONDS]   # a task
    taskcore enqueue CLASS --raw [--args JSON] [--queue Q] [--in SECONDS]      # a resque job
    taskcore generate task NAME [--queue Q] [--frequency SECONDS | --cron EXPR] [--path DIR]
    taskcore --version

Storage comes from ``--url``/``--namespace``, ``TASKCORE_*`` variables, ``--config FILE`` or
the ``taskcore.toml`` / ``[tool.taskcore]`` of the current directory (see :mod:`taskcore.config`).
Without APP, ``run``, ``worker``, ``scheduler`` and ``enqueue`` discover the tasks of the
``tasks_paths`` setting. APP is ``module:attribute`` named by the operator on the command
line; it is imported as configuration (payloads never name code). SIGINT/SIGTERM stop the
long-running commands cleanly: running jobs finish, workers unregister. Every command imports
from the current directory first (an APP or a ``resque_overrides`` class in a local module).
Exit status: 0 ok, 1 error (one line on stderr), 2 usage, 141 when the reader of stdout went
away (``| head``), quietly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from taskcore.app import App
from taskcore.arguments import MAX_SECONDS
from taskcore.cli_commands import (
    cmd_dashboard,
    cmd_enqueue,
    cmd_failed,
    cmd_generate,
    cmd_health,
    cmd_info,
    cmd_metrics,
)
from taskcore.cli_support import Handler, UsageError, app_of, cwd_importable, load_app, say
from taskcore.config import Settings
from taskcore.errors import ConfigError, TaskcoreError
from taskcore.ops.logformat import ElapsedFormatter, configure_logging
from taskcore.registry import connect
from taskcore.supervisor import Supervisor, watch_supervisor
from taskcore.web.options import add_dashboard_command

__all__ = ["load_app", "main"]

# -------------------------------------------------------------------- long-running commands


async def _serve(app: App) -> int:
    s = app.settings
    parts = [f"{s.max_workers} workers max" if s.max_workers else "no workers"]
    parts.append("scheduler" if s.scheduler else "no scheduler")
    say(
        f"taskcore: {', '.join(parts)} on {s.safe_url} (namespace {s.namespace!r}), "
        f"{len(app.tasks)} tasks; Ctrl-C to stop"
    )
    stop = asyncio.Event()
    watcher = asyncio.ensure_future(watch_supervisor(stop.set))
    try:
        await app.run_until_stopped(stop)
    finally:
        watcher.cancel()
    say("taskcore: stopped")
    return 0


async def _shared_storage(app: App) -> bool:
    """True when the App's storage is shared across processes (not ``memory://``)."""
    backend = connect(app.settings.url, namespace=app.settings.namespace)
    try:
        return backend.capabilities.shared_across_processes
    finally:
        with contextlib.suppress(Exception):
            await backend.aclose()


def _child_argv(argv: Sequence[str]) -> list[str]:
    """The command line of one supervised process: ours, asking for one process."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--processes":
            skip = True
        elif not arg.startswith("--processes="):
            out.append(arg)
    return [*out, "--processes", "1"]


async def _serve_processes(args: argparse.Namespace, app: App, default: int) -> int:
    """Serve in this process, or supervise ``--processes`` worker processes
    (:mod:`taskcore.supervisor`). ``default`` applies when the option is not given and the
    storage is shared across processes; an in-process storage always runs in one process."""
    shared = await _shared_storage(app)
    processes = args.processes
    if processes is None:
        processes = default if shared else 1
    if processes > 1 and not shared:
        raise UsageError(
            f"--processes {processes}: {app.settings.safe_url} lives inside one process and "
            "cannot be shared; use a Redis or PostgreSQL URL, or --processes 1"
        )
    if processes == 1:
        return await _serve(app)
    say(f"taskcore: supervising {processes} worker processes; Ctrl-C to stop")
    code = await Supervisor(_child_argv(args.argv), processes).run()
    say("taskcore: stopped" if code == 0 else "taskcore: stopped after errors")
    return code


async def cmd_run(args: argparse.Namespace) -> int:
    return await _serve_processes(args, app_of(args), 1)


async def cmd_worker(args: argparse.Namespace) -> int:
    return await _serve_processes(args, app_of(args, scheduler=False), os.cpu_count() or 1)


async def cmd_scheduler(args: argparse.Namespace) -> int:
    return await _serve(app_of(args, min_workers=0, max_workers=0, scheduler=True))


async def cmd_demo(args: argparse.Namespace) -> int:
    from taskcore import demo  # imported on use: it registers the demo's tasks

    demo.reset()
    settings = Settings.load(  # overrides: $TASKCORE_URL must not move the demo off memory://
        url="memory://taskcore-demo",
        namespace=f"demo-{os.getpid()}-{time.monotonic_ns()}",
        timeout=0.25,
        check_interval=0.2,
        min_workers=2,
        max_workers=4,
        scheduler=True,
    )
    settings = settings.model_copy(update={"log_job_args": True})  # the demo's data is made up
    log = logging.getLogger("taskcore.demo")
    narrate = log.info
    say(
        f"taskcore demo: 2-4 workers and a scheduler in this process, {settings.safe_url}, "
        f"for {args.seconds:g} s"
    )
    app = App(settings, demo.tasks, name="demo")
    with configure_logging(1, stream=sys.stdout, formatter=ElapsedFormatter(time.monotonic())):
        await _demo_run(app, demo, narrate, args.seconds)
    say("demo finished: workers stopped cleanly")
    return 0


async def _demo_run(app: App, demo: Any, narrate: Callable[[str], None], seconds: float) -> None:
    """Run the demo's scenario, narrated by the log lines of taskcore.ops.logs."""
    await app.start()
    try:
        await demo.scenario(app.task, narrate)
        await asyncio.sleep(seconds)
        say("\nsummary")
        stats = await app.queue.stats()
        for key in ("processed", "failed"):
            say(f"  {key:<10} {stats.get(key, 0)}")
        say(
            "  enqueues seen by the 'audit' middleware: "
            + ", ".join(f"{k} {v}" for k, v in sorted(demo.enqueues.items()))
        )
        say(f"  failed list ({await app.queue.failed_count()}):")
        for f in await app.queue.failed():
            say(f"    {f.payload.get('class')} on {f.queue!r}: {f.exception}: {f.error}")
        left = {q: n["length"] for q, n in (await app.queue.details())["queues"].items()}
        say(f"  still queued: {left}; delayed at: {await app.queue.timestamps()} (ms)")
    finally:
        await app.stop()


def _version() -> str:
    try:
        return importlib.metadata.version("taskcore")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        from taskcore import __version__

        return __version__


# -------------------------------------------------------------------- parser


def _delay_seconds(text: str) -> float:
    """``--in``: a finite number of seconds >= 0 (nan/inf/negative are usage errors)."""
    seconds = float(text)
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a delay in seconds >= 0")
    if seconds > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"{text!r} reaches past year 9999")
    return seconds


def _positive_int(text: str) -> int:
    """``--processes``: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes >= 1")
    return value


def _run_loop(args: argparse.Namespace, handler: Handler) -> int:
    """``asyncio.run`` the command, on uvloop when ``--loop uvloop`` asks for it."""
    if getattr(args, "loop", "asyncio") == "uvloop":
        try:
            import uvloop
        except ImportError as exc:
            raise ConfigError(
                "--loop uvloop needs the uvloop package: pip install 'taskcore[speedups]'"
            ) from exc
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(handler(args))
    return asyncio.run(handler(args))


def _global_options(parser: argparse.ArgumentParser, *, on_command: bool) -> None:
    """The options every command takes, accepted before or after the command name. On a
    command's parser their defaults are suppressed, so one given before the command stands."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if on_command else value

    parser.add_argument(
        "--config", default=default(None), help="TOML settings file (default: $TASKCORE_CONFIG)"
    )
    parser.add_argument(
        "--url", default=default(None), help="storage URL (default: memory://, or $TASKCORE_URL)"
    )
    parser.add_argument(
        "--namespace", default=default(None), help="resque namespace (default: resque)"
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=default(0), help="-v: INFO logs, -vv: DEBUG"
    )
    parser.add_argument(
        "--log-format", choices=("text", "json"), default=default("text"), help="log lines format"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="taskcore", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"taskcore {_version()}")
    _global_options(parser, on_command=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        _global_options(p, on_command=True)
        p.set_defaults(handler=handler)
        return p

    demo = command("demo", cmd_demo, "run a self-contained demo on the in-memory driver")
    demo.add_argument(
        "--seconds", type=float, default=7.0, help="how long to run in seconds (default 7)"
    )
    for name, handler, help_ in (
        ("run", cmd_run, "run workers and the scheduler for APP"),
        ("worker", cmd_worker, "run workers only for APP"),
        ("scheduler", cmd_scheduler, "run the scheduler only for APP"),
    ):
        p = command(name, handler, help_)
        p.add_argument(
            "app",
            metavar="APP",
            nargs="?",
            help="module:attribute of an App or TaskRegistry (default: discover tasks_paths)",
        )
        if name != "scheduler":
            p.add_argument(
                "--queues",
                type=lambda s: [q for q in s.split(",") if q],
                help="comma-separated queues in priority order (default: *)",
            )
            p.add_argument(
                "--processes",
                type=_positive_int,
                metavar="N",
                help="worker processes, supervised (default: "
                + ("the number of cores" if name == "worker" else "1")
                + "; 1 on memory://)",
            )
            p.add_argument(
                "--loop",
                choices=("asyncio", "uvloop"),
                default="asyncio",
                help="event loop (uvloop: pip install 'taskcore[speedups]')",
            )
    info = command("info", cmd_info, "show queues, workers, stats, failures and the leader")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.add_argument(
        "--watch", type=float, metavar="SECONDS", help="redraw every SECONDS until Ctrl-C"
    )
    health = command("health", cmd_health, "exit 0/1/2 for ok/warn/fail, with the reasons")
    health.add_argument("--json", action="store_true", help="print JSON")
    metrics = command("metrics", cmd_metrics, "serve Prometheus metrics over HTTP")
    metrics.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    metrics.add_argument("--port", type=int, default=9464, help="port (default 9464)")
    failed = command("failed", cmd_failed, "list, retry or remove failed jobs")
    failed.add_argument("action", choices=("list", "retry", "remove"))
    failed.add_argument("index", nargs="*", type=int, help="failure indexes (from 'failed list')")
    failed.add_argument("--all", action="store_true", help="every failed job")
    failed.add_argument("--json", action="store_true", help="print JSON (list)")
    enqueue = command("enqueue", cmd_enqueue, "enqueue a task (--app) or a raw resque job (--raw)")
    enqueue.add_argument("name", metavar="NAME", help="task name, or resque class with --raw")
    enqueue.add_argument(
        "--args", default="null", help="JSON: a task's inputs object, or a raw job's args list"
    )
    enqueue.add_argument("--queue", help="queue (default: the task's; 'default' with --raw)")
    enqueue.add_argument("--in", dest="delay", type=_delay_seconds, help="delay in seconds (>= 0)")
    enqueue.add_argument("--app", help="module:attribute of the App/TaskRegistry defining NAME")
    enqueue.add_argument(
        "--raw",
        action="store_true",
        help="enqueue NAME as a raw resque job class, not looked up as a task (for another worker)",
    )
    generate = command("generate", cmd_generate, "write a new task module and its test")
    generate.add_argument("kind", choices=("task",), help="what to generate")
    generate.add_argument("name", metavar="NAME", help="task name; dots make subfolders")
    generate.add_argument("--queue", default="default", help="the task's queue (default)")
    when = generate.add_mutually_exclusive_group()
    when.add_argument("--frequency", type=float, help="run every SECONDS (a periodic task)")
    when.add_argument("--cron", help="run on a cron expression, e.g. '*/5 * * * *'")
    generate.add_argument(
        "--path", help="tasks folder to write into (default: the first of tasks_paths, or tasks)"
    )
    add_dashboard_command(command("dashboard", cmd_dashboard, "serve the web dashboard"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 error, 2 usage, 130 interrupted,
    141 when stdout was closed early, as by ``| head``)."""
    cwd_importable()
    parser = _parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for supervised processes
    handler: Handler = args.handler
    try:
        with configure_logging(args.verbose, args.log_format):
            return _run_loop(args, handler)
    except UsageError as exc:
        print(f"taskcore: error: {exc}", file=sys.stderr)
        return 2
    except TaskcoreError as exc:
        print(f"taskcore: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _stdout_to_devnull()
        return 141  # 128 + SIGPIPE: what a shell reports for a tool its reader stopped


def _stdout_to_devnull() -> None:
    """The reader of stdout went away (``taskcore failed list | head``): point stdout at
    /dev/null so the interpreter's final flush does not print a second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (captured, closed)
        pass


if __name__ == "__main__":
    sys.exit(main())
