"""Pieces shared by the command line's modules: output, usage errors, settings and the APP.

:func:`settings_of` and :func:`app_of` apply the command line's settings in the documented
precedence (see :mod:`taskcore.config`); :func:`load_app` imports the ``module:attribute`` an
operator names (configuration, never code named by a payload).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from taskcore.app import App
from taskcore.config import Settings
from taskcore.errors import ConfigError, TaskcoreError
from taskcore.tasks.registry import TaskRegistry

__all__ = [
    "Handler",
    "UsageError",
    "app_of",
    "cwd_importable",
    "flags",
    "load_app",
    "say",
    "settings_of",
    "storage_app",
]

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
"""A command: takes the parsed arguments, returns the exit status."""


def say(*parts: Any) -> None:
    """Print a line of command output at once (the CLI's output, not a log line)."""
    print(*parts, flush=True)


class UsageError(TaskcoreError):
    """The command line asks for something inconsistent; exit status 2."""


def cwd_importable() -> None:
    """Put the current directory first on ``sys.path``, as ``python -m`` does, so an APP or a
    ``resque_overrides`` class in a local module imports for every command."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def flags(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line. An empty ``--url ""`` is kept (and refused by
    Settings), never taken for "not given"."""
    names = ("url", "namespace", "queues")
    return {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}


def settings_of(args: argparse.Namespace, **changes: Any) -> Settings:
    return Settings.load(args.config, **flags(args), **changes)


def load_app(spec: str, settings: Settings | None = None) -> App:
    """The App named by ``spec`` (``"module:attribute"``): an App, a TaskRegistry, or a
    zero-argument callable returning one. ``settings``, when given, replace the App's own."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"APP {spec!r} must be 'module:attribute', e.g. myapp.tasks:tasks")
    cwd_importable()
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


def app_of(args: argparse.Namespace, **changes: Any) -> App:
    """The APP of ``args.app`` with the command line's settings applied.

    Precedence, highest first: ``changes`` (what the command implies, e.g. no workers for
    ``scheduler``), ``--url``/``--namespace``/``--queues``, ``$TASKCORE_*``, ``--config FILE``
    (or ``$TASKCORE_CONFIG``, ``taskcore.toml``, ``[tool.taskcore]``), then the APP's own
    settings from its code. Without APP, the tasks are discovered from ``tasks_paths``.
    """
    if args.app is None:
        settings = settings_of(args, **changes)
        if not settings.tasks_paths:
            raise UsageError(
                f"{args.command}: give APP (module:attribute), or set tasks_paths (taskcore.toml, "
                "[tool.taskcore] in pyproject.toml, or TASKCORE_TASKS_PATHS) to discover tasks"
            )
        return App(settings, TaskRegistry().discover(*settings.tasks_paths))
    app = load_app(args.app)
    defaults = app.settings.model_dump()
    settings = Settings.load(args.config, defaults=defaults, **{**flags(args), **changes})
    return App(settings, app.tasks, clock=app.clock, name=app.name)


def storage_app(args: argparse.Namespace) -> App:
    """An App that only reads or changes storage: no workers, no scheduler."""
    return App(settings_of(args, scheduler=False, max_workers=0, min_workers=0))
