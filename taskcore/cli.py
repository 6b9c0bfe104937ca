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
import importlib
import importlib.metadata
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from taskcore import codec
from taskcore.app import App
from taskcore.arguments import MAX_SECONDS
from taskcore.config import Settings
from taskcore.errors import ConfigError, TaskcoreError
from taskcore.malformed import MalformedFailure
from taskcore.ops.logformat import ElapsedFormatter, configure_logging
from taskcore.registry import connect
from taskcore.supervisor import Supervisor, watch_supervisor
from taskcore.tasks.api import TaskAPI
from taskcore.tasks.registry import TaskRegistry
from taskcore.web.options import add_dashboard_command

__all__ = ["load_app", "main"]

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def _print(*parts: Any) -> None:
    print(*parts, flush=True)


# -------------------------------------------------------------------- settings and APP


class UsageError(TaskcoreError):
    """The command line asks for something inconsistent; exit status 2."""


def _cwd_importable() -> None:
    """Put the current directory first on ``sys.path``, as ``python -m`` does, so an APP or a
    ``resque_overrides`` class in a local module imports for every command."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line. An empty ``--url ""`` is kept (and refused by
    Settings), never taken for "not given"."""
    names = ("url", "namespace", "queues")
    return {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}


def _settings(args: argparse.Namespace, **changes: Any) -> Settings:
    return Settings.load(args.config, **_flags(args), **changes)


def load_app(spec: str, settings: Settings | None = None) -> App:
    """The App named by ``spec`` (``"module:attribute"``): an App, a TaskRegistry, or a
    zero-argument callable returning one. ``settings``, when given, replace the App's own."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"APP {spec!r} must be 'module:attribute', e.g. myapp.tasks:tasks")
    _cwd_importable()
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"APP {spec!r} cannot be loaded: {exc}") from exc
    if callable(obj) and not isinstance(obj, App | TaskRegistry):
        obj = obj()
    if isinstance(obj, TaskRegistry):
        return App(settings, obj)
    if isinstance(obj, App):
        return App(settings or obj.settings, obj.tasks, clock=obj.clock, name=obj.name)
    raise ConfigError(f"APP {spec!r} is a {type(obj).__name__}, not an App or a TaskRegistry")


def _app_settings(args: argparse.Namespace, **changes: Any) -> App:
    """The APP of ``args.app`` with the command line's settings applied.

    Precedence, highest first: ``changes`` (what the command implies, e.g. no workers for
    ``scheduler``), ``--url``/``--namespace``/``--queues``, ``$TASKCORE_*``, ``--config FILE``
    (or ``$TASKCORE_CONFIG``, ``taskcore.toml``, ``[tool.taskcore]``), then the APP's own
    settings from its code. Without APP, the tasks are discovered from ``tasks_paths``.
    """
    if args.app is None:
        settings = _settings(args, **changes)
        if not settings.tasks_paths:
            raise UsageError(
                f"{args.command}: give APP (module:attribute), or set tasks_paths (taskcore.toml, "
                "[tool.taskcore] in pyproject.toml, or TASKCORE_TASKS_PATHS) to discover tasks"
            )
        return App(settings, TaskRegistry().discover(*settings.tasks_paths))
    app = load_app(args.app)
    defaults = app.settings.model_dump()
    settings = Settings.load(args.config, defaults=defaults, **{**_flags(args), **changes})
    return App(settings, app.tasks, clock=app.clock, name=app.name)


# -------------------------------------------------------------------- long-running commands


async def _serve(app: App) -> int:
    s = app.settings
    parts = [f"{s.max_workers} workers max" if s.max_workers else "no workers"]
    parts.append("scheduler" if s.scheduler else "no scheduler")
    _print(
        f"taskcore: {', '.join(parts)} on {s.safe_url} (namespace {s.namespace!r}), "
        f"{len(app.tasks)} tasks; Ctrl-C to stop"
    )
    stop = asyncio.Event()
    watcher = asyncio.ensure_future(watch_supervisor(stop.set))
    try:
        await app.run_until_stopped(stop)
    finally:
        watcher.cancel()
    _print("taskcore: stopped")
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
    _print(f"taskcore: supervising {processes} worker processes; Ctrl-C to stop")
    code = await Supervisor(_child_argv(args.argv), processes).run()
    _print("taskcore: stopped" if code == 0 else "taskcore: stopped after errors")
    return code


async def cmd_run(args: argparse.Namespace) -> int:
    return await _serve_processes(args, _app_settings(args), 1)


async def cmd_worker(args: argparse.Namespace) -> int:
    return await _serve_processes(args, _app_settings(args, scheduler=False), os.cpu_count() or 1)


async def cmd_scheduler(args: argparse.Namespace) -> int:
    return await _serve(_app_settings(args, min_workers=0, max_workers=0, scheduler=True))


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
    say = log.info
    _print(
        f"taskcore demo: 2-4 workers and a scheduler in this process, {settings.safe_url}, "
        f"for {args.seconds:g} s"
    )
    app = App(settings, demo.tasks, name="demo")
    with configure_logging(1, stream=sys.stdout, formatter=ElapsedFormatter(time.monotonic())):
        await _demo_run(app, demo, say, args.seconds)
    _print("demo finished: workers stopped cleanly")
    return 0


async def _demo_run(app: App, demo: Any, say: Callable[[str], None], seconds: float) -> None:
    """Run the demo's scenario, narrated by the log lines of taskcore.ops.logs."""
    await app.start()
    try:
        await demo.scenario(app.task, say)
        await asyncio.sleep(seconds)
        _print("\nsummary")
        stats = await app.queue.stats()
        for key in ("processed", "failed"):
            _print(f"  {key:<10} {stats.get(key, 0)}")
        _print(
            "  enqueues seen by the 'audit' middleware: "
            + ", ".join(f"{k} {v}" for k, v in sorted(demo.enqueues.items()))
        )
        _print(f"  failed list ({await app.queue.failed_count()}):")
        for f in await app.queue.failed():
            _print(f"    {f.payload.get('class')} on {f.queue!r}: {f.exception}: {f.error}")
        left = {q: n["length"] for q, n in (await app.queue.details())["queues"].items()}
        _print(f"  still queued: {left}; delayed at: {await app.queue.timestamps()} (ms)")
    finally:
        await app.stop()


# -------------------------------------------------------------------- inspection


async def cmd_info(args: argparse.Namespace) -> int:
    from taskcore.ops.commands import info_command

    app = App(_settings(args, scheduler=False, max_workers=0, min_workers=0))
    return await info_command(app, args.json, args.watch)


async def cmd_health(args: argparse.Namespace) -> int:
    from taskcore.ops.commands import health_command

    app = App(_settings(args, scheduler=False, max_workers=0, min_workers=0))
    return await health_command(app, args.json)


async def cmd_metrics(args: argparse.Namespace) -> int:
    from taskcore.ops.commands import metrics_command

    app = App(_settings(args, scheduler=False, max_workers=0, min_workers=0))
    return await metrics_command(app, args.host, args.port)


async def cmd_failed(args: argparse.Namespace) -> int:
    app = App(_settings(args, scheduler=False, max_workers=0, min_workers=0))
    await app.open()
    try:
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
                _print(
                    f"[{i}] is not a readable failure record: it cannot be retried, only removed"
                )
            elif args.action == "retry":
                done += int(await app.queue.retry_and_remove_failed(failures[i]))
            else:
                done += await app.queue.remove_failed(failures[i])
        verb = "retried" if args.action == "retry" else "removed"
        _print(f"{verb} {done} of {len(chosen)} failed job(s)")
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
        _print(json.dumps([_failure_json(f) for f in failures], indent=2))
        return
    if not failures:
        _print("no failed jobs")
    for i, f in enumerate(failures):
        if isinstance(f, MalformedFailure):
            _print(f"[{i}] unreadable failure record: {f.raw[:120]!r}")
            _print(f"     {f.reason}")
            continue
        cls = f.payload.get("class", "?")
        args = codec.dumps(f.payload.get("args", []))
        _print(f"[{i}] {f.failed_at}  {f.queue}  {cls}({args})")
        _print(f"     {f.exception or 'Error'}: {f.error or ''}  (worker {f.worker})")


async def cmd_enqueue(args: argparse.Namespace) -> int:
    try:
        data = json.loads(args.args)
    except ValueError as exc:
        raise UsageError(f"--args is not valid JSON: {exc}") from exc
    if not args.raw and not args.app and not _settings(args).tasks_paths:
        raise UsageError(
            f"enqueue {args.name!r}: give --app APP (or set tasks_paths) to enqueue a task "
            "(inputs validated, sent to the task's queue), or --raw to enqueue a raw resque job "
            "of that class"
        )
    if args.app or not args.raw:
        app = _app_settings(args, scheduler=False, max_workers=0, min_workers=0)
    else:
        app = App(_settings(args, scheduler=False, max_workers=0, min_workers=0))
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
    _print(
        f"enqueued {args.name} on {queue!r}{when}" if ok else "not enqueued: a plugin blocked it"
    )
    return 0 if ok else 1


async def cmd_dashboard(args: argparse.Namespace) -> int:
    try:
        from taskcore.web import serve  # the optional extra, imported on use
    except ImportError as exc:
        raise ConfigError(str(exc)) from exc
    await serve(
        _settings(args),
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
        paths = _settings(args).tasks_paths
        folder = paths[0] if paths else "tasks"
    written = generate_task(
        args.name, Path(folder), queue=args.queue, frequency=args.frequency, cron=args.cron
    )
    _print(f"wrote {written.module}")
    _print(f"wrote {written.test}  (run: pytest {written.test})")
    if args.path is None and not _settings(args).tasks_paths:
        _print(f'set tasks_paths = ["{folder}"] in taskcore.toml so `taskcore run` finds it')
    return 0


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
    _cwd_importable()
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
