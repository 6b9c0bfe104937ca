"""The jobs registry: resque class name -> what to run, with its plugins and plugin options.

A payload's ``class`` is looked up here and nowhere else: taskcore never imports code named by
a payload. A class that is not registered is a recorded failure on the worker that reserved it.

Definitions are frozen and their plugin options are read-only copies, so a plugin can never
change another job's options (node-resque's Retry mutates the shared definition; we do not).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, overload

from taskcore.errors import ConfigError

if TYPE_CHECKING:
    from taskcore.plugins.base import PluginRef

__all__ = ["JobDefinition", "Jobs", "PerformFn"]

PerformFn = Callable[..., Any]
"""A job function, sync or async, called with the payload's args spread: ``perform(*args)``.
Sync functions run in a worker thread so they never block the event loop."""


@dataclass(frozen=True, slots=True)
class JobDefinition:
    """What a resque class name runs: ``perform``, then the plugins in order, with options.

    ``plugin_options`` is keyed by plugin name (``"Retry"``, ``"JobLock"``, or a custom plugin
    class's ``plugin_name()``); a key naming no plugin of this job is a :class:`ConfigError`.
    """

    perform: PerformFn
    plugins: tuple[PluginRef, ...] = ()
    plugin_options: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    timeout: float | None = None
    """Seconds ``perform`` may run before it is cancelled and recorded as a
    :class:`~taskcore.errors.JobTimeout` failure; None (the default) for no limit. Measured on
    the worker's clock; plugin hooks are not counted."""

    def __post_init__(self) -> None:
        from taskcore.plugins.base import resolve_plugin

        if not callable(self.perform):
            raise ConfigError(f"a job's perform must be callable, got {self.perform!r}")
        if self.timeout is not None and (
            isinstance(self.timeout, bool)
            or not isinstance(self.timeout, int | float)
            or self.timeout <= 0
        ):
            raise ConfigError(
                f"a job's timeout must be a number of seconds > 0 or None, got {self.timeout!r}"
            )
        names = [resolve_plugin(ref).plugin_name() for ref in self.plugins]
        unknown = sorted(set(self.plugin_options) - set(names))
        if unknown:
            raise ConfigError(
                f"plugin_options names {', '.join(unknown)}, which is not among this job's "
                f"plugins ({', '.join(names) or 'none'}); option keys are case-sensitive plugin "
                "names"
            )
        frozen = {k: MappingProxyType(dict(v)) for k, v in self.plugin_options.items()}
        object.__setattr__(self, "plugin_options", MappingProxyType(frozen))
        object.__setattr__(self, "plugins", tuple(self.plugins))

    def options_for(self, plugin_name: str) -> Mapping[str, Any]:
        """The options given for ``plugin_name`` (empty when none)."""
        return self.plugin_options.get(plugin_name, MappingProxyType({}))


class Jobs(Mapping[str, JobDefinition]):
    """A mapping of resque class names to :class:`JobDefinition`.

    Build it from a dict (values may be bare functions) and/or register with the decorator::

        jobs = Jobs({"add": add})

        @jobs.register("email", plugins=["Retry"], plugin_options={"Retry": {"retry_limit": 3}})
        async def send_email(to: str) -> None: ...
    """

    def __init__(self, jobs: Mapping[str, JobDefinition | PerformFn] | None = None) -> None:
        self._jobs: dict[str, JobDefinition] = {}
        for name, job in (jobs or {}).items():
            self.add(name, job)

    def add(self, name: str, job: JobDefinition | PerformFn) -> JobDefinition:
        """Register ``job`` (a definition or a bare function) under ``name``; returns it."""
        if not name:
            raise ConfigError("a job needs a non-empty name")
        definition = job if isinstance(job, JobDefinition) else JobDefinition(job)
        self._jobs[name] = definition
        return definition

    @overload
    def register(
        self,
        name: str,
        perform: None = None,
        *,
        plugins: Sequence[PluginRef] = (),
        plugin_options: Mapping[str, Mapping[str, Any]] | None = None,
        timeout: float | None = None,
    ) -> Callable[[PerformFn], PerformFn]: ...

    @overload
    def register(
        self,
        name: str,
        perform: PerformFn,
        *,
        plugins: Sequence[PluginRef] = (),
        plugin_options: Mapping[str, Mapping[str, Any]] | None = None,
        timeout: float | None = None,
    ) -> PerformFn: ...

    def register(
        self,
        name: str,
        perform: PerformFn | None = None,
        *,
        plugins: Sequence[PluginRef] = (),
        plugin_options: Mapping[str, Mapping[str, Any]] | None = None,
        timeout: float | None = None,
    ) -> PerformFn | Callable[[PerformFn], PerformFn]:
        """Register a function under ``name``; usable directly or as a decorator.

        ``timeout`` (seconds) cancels a run that takes longer; see :class:`JobDefinition`.
        """

        def decorate(fn: PerformFn) -> PerformFn:
            options = dict(plugin_options or {})
            self.add(name, JobDefinition(fn, tuple(plugins), options, timeout))
            return fn

        return decorate if perform is None else decorate(perform)

    def __getitem__(self, name: str) -> JobDefinition:
        return self._jobs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._jobs)

    def __len__(self) -> int:
        return len(self._jobs)
