"""Task discovery: tasks found in folders and packages, as Actionhero loads ``./tasks/``.

::

    tasks = TaskRegistry().discover("tasks", "myapp.jobs")   # a folder, a package

    # tasks/auth/session_validation.py
    from taskcore.tasks import Task, define_task

    @define_task(queue="auth")                   # named "auth.session_validation"
    async def validate(token: str) -> bool: ...

A target is a folder or a ``.py`` file (a path, relative to the current directory), or the
dotted name of an importable package or module. Every ``.py`` file below a folder is a task
module, except files and folders whose name starts with ``_`` or ``.`` (``__init__.py``,
``__pycache__``) and test files (``test_*.py``, ``*_test.py``, ``conftest.py``), so tests may
live beside their tasks. In each module the tasks are:

* every :class:`~taskcore.tasks.Task` instance at module level (what :func:`define_task`
  returns, or ``cleanup = Cleanup()``), counted once however many modules re-export it;
* every :class:`Task` subclass *defined in* that module, not abstract, whose name does not start
  with ``_`` and of which the module holds no instance: it is instantiated with no arguments
  (Actionhero instantiates each exported class).

A task that does not name itself (a class without ``name``, :func:`define_task` without
``name=``) takes the module's path below the target: ``tasks/auth/session_validation.py`` is
``auth.session_validation``; so a file holds one such task. A name found twice (in two files,
or already registered in code) is a :class:`DiscoveryError` naming both places; so is a module
that fails to import (naming the file, the cause chained), never a silent skip. Nothing is
registered when discovery fails.

Folder modules are imported under a private package name (``_taskcore_tasks_<hash>.<dotted>``)
and cached in ``sys.modules``, so discovering the same folder twice runs its code once; they
import other code absolutely (``from myapp.db import ...``). A package target is imported under
its real name, relative imports included.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, Unpack

from taskcore.errors import ConfigError
from taskcore.tasks.task import FunctionTask, Task, TaskOptions

if TYPE_CHECKING:
    from taskcore.tasks.registry import TaskRegistry

__all__ = ["DiscoveryError", "Found", "define_task", "discover", "find_tasks", "task_modules"]

P = ParamSpec("P")
R = TypeVar("R")

_TEST_FILE_PREFIXES = ("test_",)
_TEST_FILE_SUFFIXES = ("_test.py",)


class DiscoveryError(ConfigError):
    """A task module cannot be imported, or two tasks have one name."""


@dataclass(frozen=True, slots=True)
class Found:
    """A discovered task and where it was found (a file path, for messages)."""

    task: Task
    origin: str


def define_task(
    name: str | None = None, **options: Unpack[TaskOptions]
) -> Callable[[Callable[P, R]], FunctionTask[P, R]]:
    """Decorator making a function a task without registering it anywhere: a registry's
    :meth:`~taskcore.tasks.TaskRegistry.discover` (or ``registry.add``) registers it.

    Takes what ``TaskRegistry.task`` takes (:class:`~taskcore.tasks.task.TaskOptions`:
    ``queue``, ``frequency``, ``cron="*/5 * * * *"``, ``scope="all"``, ...; durations in SECONDS
    or timedeltas). Without ``name`` a discovered task is named after its module's path.
    """

    def decorate(fn: Callable[P, R]) -> FunctionTask[P, R]:
        fields: dict[str, Any] = {
            **options,  # copies: the task does not change when the caller's lists do
            "middleware": tuple(options.get("middleware", ())),
            "plugins": tuple(options.get("plugins", ())),
            "plugin_options": dict(options.get("plugin_options") or {}),
        }
        built = FunctionTask(fn, name=name, **fields)
        object.__setattr__(built, "named_by_file", name is None)
        return built

    return decorate


# -------------------------------------------------------------------- finding modules


def _is_task_file(relative: Path) -> bool:
    if any(part.startswith(("_", ".")) for part in relative.parts):
        return False
    name = relative.name
    return not (
        name == "conftest.py"
        or name.startswith(_TEST_FILE_PREFIXES)
        or name.endswith(_TEST_FILE_SUFFIXES)
    )


def _files_below(root: Path) -> Iterator[tuple[Path, str]]:
    """``(file, dotted name)`` of every task module below folder ``root``, sorted."""
    for file in sorted(root.rglob("*.py")):
        relative = file.relative_to(root)
        if file.is_file() and _is_task_file(relative):
            yield file, ".".join(relative.with_suffix("").parts)


def _shown(path: Path) -> str:
    """``path`` relative to the current directory when it is below it (shorter messages)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _import_file(file: Path, root: Path, dotted: str) -> ModuleType:
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:10]
    module_name = f"_taskcore_tasks_{digest}.{dotted}"
    cached = sys.modules.get(module_name)
    if cached is not None and getattr(cached, "__file__", None) == str(file.resolve()):
        return cached
    spec = importlib.util.spec_from_file_location(module_name, file.resolve())
    if spec is None or spec.loader is None:
        raise DiscoveryError(f"cannot import task module {_shown(file)}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[module_name]
        if not isinstance(exc, Exception):
            raise
        raise DiscoveryError(
            f"cannot import task module {_shown(file)}: {type(exc).__name__}: {exc}"
        ) from exc
    return module


def _import_name(module_name: str, origin: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        raise DiscoveryError(
            f"cannot import task module {origin}: {type(exc).__name__}: {exc}"
        ) from exc


def task_modules(target: str | os.PathLike[str]) -> Iterator[tuple[ModuleType, str, str]]:
    """``(module, default task name, origin)`` for every task module of ``target``."""
    path = Path(target)
    if isinstance(target, os.PathLike) or path.exists() or os.sep in str(target):
        if path.is_dir():
            for file, dotted in _files_below(path):
                yield _import_file(file, path, dotted), dotted, _shown(file)
            return
        if path.is_file() and path.suffix == ".py":
            yield _import_file(path, path.parent, path.stem), path.stem, _shown(path)
            return
        raise DiscoveryError(
            f"tasks path {str(target)!r} is not a folder or a .py file (looked in "
            f"{Path.cwd()}); fix tasks_paths or the path given to discover()"
        )
    if not all(part.isidentifier() for part in str(target).split(".")):
        raise DiscoveryError(
            f"tasks target {str(target)!r} is neither an existing path nor a package name"
        )
    package = _import_name(str(target), str(target))
    locations = list(getattr(package, "__path__", []))
    if not locations:  # a plain module: its own tasks
        origin = getattr(package, "__file__", None) or str(target)
        yield package, str(target).rpartition(".")[2], _shown(Path(origin))
        return
    for location in locations:
        for file, dotted in _files_below(Path(location)):
            module = _import_name(f"{package.__name__}.{dotted}", _shown(file))
            yield module, dotted, _shown(file)


# -------------------------------------------------------------------- finding tasks


def _tasks_in(module: ModuleType, default_name: str, origin: str) -> Iterator[Task]:
    instances = [value for value in vars(module).values() if isinstance(value, Task)]
    instance_classes = {type(task) for task in instances}
    for task in instances:
        if getattr(task, "named_by_file", False) and task.name != default_name:
            renamed = copy.copy(task)
            if renamed.description == task.name:
                object.__setattr__(renamed, "description", default_name)
            object.__setattr__(renamed, "name", default_name)
            yield renamed
        else:
            yield task
    for attr, value in list(vars(module).items()):
        if (
            inspect.isclass(value)
            and issubclass(value, Task)
            and value.__module__ == module.__name__
            and not inspect.isabstract(value)
            and not attr.startswith("_")
            and value not in instance_classes
        ):
            try:
                yield value() if value.name else value(name=default_name)
            except Exception as exc:
                raise DiscoveryError(
                    f"task class {value.__name__} in {origin} cannot be built with no "
                    f"arguments: {type(exc).__name__}: {exc}"
                ) from exc


def find_tasks(targets: Sequence[str | os.PathLike[str]]) -> list[Found]:
    """Every task of ``targets`` in discovery order; :class:`DiscoveryError` for a module that
    does not import or a name found twice."""
    found: dict[str, Found] = {}
    seen: set[int] = set()
    for target in targets:
        for module, default_name, origin in task_modules(target):
            for task in _tasks_in(module, default_name, origin):
                if id(task) in seen:
                    continue
                seen.add(id(task))
                other = found.get(task.name)
                if other is not None and other.task is not task:
                    raise _duplicate(task.name, other.origin, origin)
                found[task.name] = Found(task, origin)
    return list(found.values())


def _duplicate(name: str, first: str, second: str) -> DiscoveryError:
    where = f"in {first} and in {second}" if first != second else f"twice in {first}"
    return DiscoveryError(
        f"task name {name!r} is defined {where}; give one of them another name "
        "(name=... or the class's name attribute)"
    )


def _origin_of(task: Task) -> str:
    code: Any = task.fn if isinstance(task, FunctionTask) else type(task)
    try:
        source = inspect.getsourcefile(code)
    except TypeError:
        source = None
    return _shown(Path(source)) if source else "code"


def discover(registry: TaskRegistry, *targets: str | os.PathLike[str]) -> list[Task]:
    """Register every task of ``targets`` in ``registry`` (see the module docs); returns them.

    All or nothing: on a :class:`DiscoveryError` no task is registered. A task already in the
    registry under the same name is a duplicate unless it is the very same object (discovering
    a folder twice is harmless).
    """
    found = find_tasks(targets)
    for item in found:
        if item.task.name in registry:
            existing = registry.get(item.task.name)
            if existing is not item.task and not _same_definition(existing, item.task):
                raise _duplicate(item.task.name, _origin_of(existing), item.origin)
    for item in found:
        registry.add(item.task)
    return [item.task for item in found]


def _same_definition(a: Task, b: Task) -> bool:
    """True when ``b`` is what discovering ``a``'s module again gives: an instance of the same
    class with the same attributes (a renamed copy, a class instantiated again)."""
    return type(a) is type(b) and vars(a) == vars(b)
