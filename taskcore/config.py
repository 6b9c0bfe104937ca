"""Configuration: one pydantic-settings model, from code, environment variables or a TOML file.

Precedence, highest first (the operator's choices beat the program's defaults):

1. ``Settings.load(..., **overrides)``: what the command line passes (``--url``, ...);
2. environment variables ``TASKCORE_<FIELD>`` (nested fields with ``__``:
   ``TASKCORE_RESQUE_OVERRIDES__QUEUE=myapp.queues:AuditedQueue``);
3. the TOML file of :meth:`Settings.load`: the one given, else ``$TASKCORE_CONFIG``, else
   ``taskcore.toml`` or the ``[tool.taskcore]`` table of ``pyproject.toml`` in the current
   directory (see :mod:`taskcore.configfile`);
4. values passed in code, ``Settings(url=...)`` (or ``Settings.load(defaults=...)``): defaults
   of the program, so ``TASKCORE_URL=redis://...`` moves an App whose code says ``memory://``
   (an INFO log line names each field the environment overrides);
5. the built-in defaults::

    settings = Settings(url="redis://localhost:6379/0", max_workers=4)
    settings = Settings.load("taskcore.toml")        # or TASKCORE_CONFIG=taskcore.toml

Invalid configuration raises :class:`~taskcore.errors.ConfigError` naming each bad field, at
construction: a process fails at start, not at its first job. Units: every duration is in
SECONDS (a ``timedelta`` is accepted in code); the optional ones (``stuck_worker_timeout``,
``shutdown_timeout``) take ``"none"``, ``"null"`` or an empty string for None from the
environment or TOML. The URL's password never
appears in ``repr``/``str``/logs (:attr:`Settings.safe_url`).

``resque_overrides`` names subclasses of Queue, MultiWorker and Scheduler by import path
(``"package.module:Class"``). This is operator configuration, never read from a job payload;
each path is imported and checked to be a subclass when the settings are built.
"""

from __future__ import annotations

import contextvars
import importlib
import logging
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Self
from urllib.parse import urlsplit, urlunsplit

import pydantic
from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from taskcore.configfile import ConfigFile, find_config_file
from taskcore.errors import ConfigError
from taskcore.ops.settings import SCHEDULER_LOGGING, WORKER_LOGGING, HealthSettings, event_levels
from taskcore.urls import check_url, is_keyword_dsn, mask_keyword_dsn

__all__ = ["NONE_WORDS", "ResqueOverrides", "Settings", "import_class", "mask_url"]

CONFIG_ENV = "TASKCORE_CONFIG"
"""Environment variable naming a TOML file for :meth:`Settings.load`."""

NONE_WORDS = frozenset({"none", "null", ""})
"""Strings (case-insensitive, surrounding blanks ignored) that set an optional duration to None:
the environment has only strings and TOML has no null."""

log = logging.getLogger("taskcore.config")

_toml_file: contextvars.ContextVar[ConfigFile | None] = contextvars.ContextVar(
    "taskcore_toml_file", default=None
)
_overrides: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "taskcore_settings_overrides", default=None
)


_SECRET_PARAMS = frozenset({"password", "pass", "passwd", "pwd", "secret", "token"})
"""Query parameters masked by :func:`mask_url` (case-insensitive): libpq and redis-py both read a
``password`` parameter from the URL."""


def mask_url(url: str) -> str:
    """``url`` with its password (in the userinfo or a ``password=`` query parameter) replaced by
    ``***``; unchanged when it has none. An unparseable URL is replaced entirely, never echoed.
    A libpq keyword/value DSN is masked by :func:`~taskcore.urls.mask_keyword_dsn`."""
    if is_keyword_dsn(url):
        return mask_keyword_dsn(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc
    if parts.password is not None:
        host = parts.hostname or ""
        if port is not None:
            host = f"{host}:{port}"
        netloc = f"{parts.username or ''}:***@{host}"
    query = parts.query
    if query:
        pairs = [p.partition("=") for p in query.split("&")]
        query = "&".join(
            f"{k}{eq}***" if eq and k.lower() in _SECRET_PARAMS else f"{k}{eq}{v}"
            for k, eq, v in pairs
        )
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def import_class(path: str, base: type[Any], field: str) -> type[Any]:
    """Import ``"module:Class"`` (or ``"module.Class"``) and check it subclasses ``base``."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"{field}: {path!r} is not an import path like 'package.module:Class'")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"{field}: cannot import {path!r}: {exc}") from exc
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise ValueError(
            f"{field}: {path!r} is not a subclass of {base.__module__}.{base.__name__}"
        )
    return obj


def _engine_bases() -> dict[str, type[Any]]:
    from taskcore.multiworker import MultiWorker
    from taskcore.queue import Queue
    from taskcore.scheduler import Scheduler

    return {"queue": Queue, "multi_worker": MultiWorker, "scheduler": Scheduler}


class ResqueOverrides(BaseModel):
    """Import paths of the classes to use instead of Queue, MultiWorker and Scheduler."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    queue: str | None = None
    multi_worker: str | None = None
    scheduler: str | None = None

    @model_validator(mode="after")
    def _importable(self) -> Self:
        if self.queue is None and self.multi_worker is None and self.scheduler is None:
            return self
        for field, base in _engine_bases().items():
            path = getattr(self, field)
            if path is not None:
                import_class(path, base, field)
        return self

    def resolve(self, field: str) -> type[Any]:
        """The class configured for ``field`` ("queue", "multi_worker", "scheduler"), or the
        engine's own class when none is configured."""
        base = _engine_bases()[field]
        path: str | None = getattr(self, field)
        return base if path is None else import_class(path, base, field)


class Settings(BaseSettings):
    """Everything an :class:`~taskcore.app.App` needs; durations in SECONDS."""

    model_config = SettingsConfigDict(
        env_prefix="TASKCORE_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    url: str = "memory://"
    """Storage URL: ``memory://``, ``redis://[:password@]host:port/db``, ``postgresql://...``."""
    namespace: Annotated[str, Field(min_length=1)] = "resque"
    """Key prefix (Redis) / namespace column (PostgreSQL); node-resque's default is resque."""
    queues: Annotated[list[str], NoDecode, Field(min_length=1)] = ["*"]
    """Queues workers take jobs from, in priority order; ``["*"]`` means every queue. From the
    environment: a JSON list or a comma-separated string."""
    scheduler: bool = True
    """Run a scheduler (leader-elected; safe on every node) and boot periodic tasks."""
    timeout: Annotated[float, Field(gt=0)] = 5.0
    """Worker poll fallback and heartbeat interval, and the scheduler's poll interval."""
    poll_interval: Annotated[float | None, Field(gt=0)] = None
    """How often an idle worker looks at its queues for jobs other producers (node-resque,
    resque) pushed without waking it; None means every ``timeout``. Not needed on a Redis
    server with keyspace notifications for lists (``notify-keyspace-events Kl``): those wake
    workers at once. Each poll is one reserve call per idle worker."""
    min_workers: Annotated[int, Field(ge=0)] = 1
    max_workers: Annotated[int, Field(ge=0)] = 20
    """Worker pool bounds; ``max_workers = 0`` runs no workers on this node. The pool grows
    only while most workers find work and the event loop keeps up, so 20 serves short jobs
    (the loop's lag stops growth first) and jobs that wait on I/O alike (docs/worker.md)."""
    check_interval: Annotated[float, Field(gt=0)] = 0.5
    """How often the pool re-sizes itself."""
    max_event_loop_delay: Annotated[float, Field(gt=0)] = 0.01
    """The pool stops growing while the event loop lags more than this."""
    stuck_worker_timeout: Annotated[float | None, Field(gt=0)] = 3600.0
    """A worker without a heartbeat for this long is declared dead; None disables the check
    (from the environment or TOML: ``"none"``, ``"null"`` or ``""``, see :data:`NONE_WORDS`)."""
    retry_stuck_jobs: bool = False
    """Put dead workers' jobs back on their queues (after recording them as failures)."""
    leader_lock_timeout: Annotated[int, Field(ge=1)] = 180
    """TTL of the scheduler leader lock (whole seconds)."""
    shutdown_timeout: Annotated[float | None, Field(ge=0)] = 30.0
    """How long stopping waits for running jobs before cancelling them; None waits forever
    (from the environment or TOML: ``"none"``, ``"null"`` or ``""``)."""
    resque_overrides: ResqueOverrides = ResqueOverrides()
    worker_logging: dict[str, str] = {}
    """Log level per worker event (``{"success": "debug", "ping": "off"}``), merged over
    :data:`taskcore.ops.settings.WORKER_LOGGING`; see :mod:`taskcore.ops.logs`."""
    scheduler_logging: dict[str, str] = {}
    """Log level per scheduler event, merged over
    :data:`taskcore.ops.settings.SCHEDULER_LOGGING`."""
    log_job_args: bool = False
    """Also log each job's args (and a success's result). Off: they may hold personal data."""
    health: HealthSettings = HealthSettings()
    """Thresholds of ``app.health()`` and ``taskcore health``."""
    tasks_paths: Annotated[list[str], NoDecode] = []
    """Folders, ``.py`` files or package names holding task modules, discovered by
    ``taskcore run`` (and ``worker``, ``scheduler``, ``enqueue``, ``generate``) when no APP is
    named; paths are relative to the current directory. From the environment: a JSON list or a
    comma-separated string. See :mod:`taskcore.tasks.discovery`."""

    def __init__(self, **values: Any) -> None:
        """``values`` are the program's defaults: ``TASKCORE_*`` variables (and the file and
        overrides of :meth:`load`) win over them; see the module's precedence list."""
        try:
            super().__init__(**values)
        except pydantic.ValidationError as exc:
            raise ConfigError(describe_errors(exc)) from exc
        if values:
            _log_environment_overrides(type(self), values)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        defaults: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Settings from ``overrides`` (highest: the command line's flags), the environment,
        ``path`` (a TOML file; default ``$TASKCORE_CONFIG`` if set, else ``taskcore.toml`` or
        ``[tool.taskcore]`` in ``pyproject.toml`` of the current directory), then ``defaults``
        (values from code, e.g. an App's own settings). A missing or unreadable file is a
        :class:`ConfigError`."""
        chosen = path if path is not None else os.environ.get(CONFIG_ENV) or None
        found = ConfigFile(Path(chosen)) if chosen is not None else find_config_file()
        token = _overrides.set(overrides)
        try:
            if found is None:
                return cls(**(defaults or {}))
            return cls._from_file(found, defaults or {})
        finally:
            _overrides.reset(token)

    @classmethod
    def _from_file(cls, file: ConfigFile, defaults: Mapping[str, Any]) -> Settings:
        if not file.path.is_file():
            raise ConfigError(f"config file {str(file.path)!r} does not exist or is not a file")
        token = _toml_file.set(file)
        try:
            return cls(**defaults)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (config file {file.describe()})") from exc.__cause__
        except ValueError as exc:  # tomllib.TOMLDecodeError
            raise ConfigError(f"config file {str(file.path)!r} is not valid TOML: {exc}") from exc
        finally:
            _toml_file.reset(token)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = []
        overrides = _overrides.get()
        if overrides:
            sources.append(InitSettingsSource(settings_cls, init_kwargs=dict(overrides)))
        sources.append(env_settings)
        toml = _toml_file.get()
        if toml is not None:
            sources.append(
                TomlConfigSettingsSource(
                    settings_cls, toml_file=toml.path, toml_table_header=toml.table
                )
            )
        sources.append(init_settings)
        return tuple(sources)

    @field_validator("queues", "tasks_paths", mode="before")
    @classmethod
    def _split_queues(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return pydantic.TypeAdapter(list[str]).validate_json(text)
            return [q.strip() for q in text.split(",") if q.strip()]
        return value

    @field_validator("stuck_worker_timeout", "shutdown_timeout", "poll_interval", mode="before")
    @classmethod
    def _optional_seconds(cls, value: Any) -> Any:
        # A boolean would pass as 0 or 1 second (pydantic reads True as 1.0): "false" meant as
        # "disabled" would cancel every job at shutdown, so it is refused, not guessed.
        if isinstance(value, bool):
            raise ValueError('give a number of seconds, or "none" to disable (not a boolean)')
        if isinstance(value, str):
            if value.strip().lower() in NONE_WORDS:
                return None
            try:
                float(value)
            except ValueError:
                raise ValueError(
                    f'{value!r} is not a number of seconds; use "none" to disable'
                ) from None
        return value

    @field_validator(
        "timeout",
        "poll_interval",
        "check_interval",
        "max_event_loop_delay",
        "stuck_worker_timeout",
        "shutdown_timeout",
        "leader_lock_timeout",
        mode="before",
    )
    @classmethod
    def _timedelta_seconds(cls, value: Any, info: pydantic.ValidationInfo) -> Any:
        # durations may be given in code as timedeltas; whole seconds for the lock's TTL
        if not isinstance(value, timedelta):
            return value
        seconds = value.total_seconds()
        if info.field_name == "leader_lock_timeout":
            if seconds != int(seconds):
                raise ValueError(f"a whole number of seconds is needed, got {value}")
            return int(seconds)
        return seconds

    @field_validator("worker_logging", "scheduler_logging")
    @classmethod
    def _event_levels(cls, value: dict[str, str], info: pydantic.ValidationInfo) -> dict[str, str]:
        defaults = WORKER_LOGGING if info.field_name == "worker_logging" else SCHEDULER_LOGGING
        return event_levels(value, defaults)

    @field_validator("url")
    @classmethod
    def _usable_url(cls, value: str) -> str:
        try:
            return check_url(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _pool_bounds(self) -> Self:
        if self.max_workers and self.min_workers > self.max_workers:
            raise ValueError(
                f"min_workers ({self.min_workers}) must not exceed max_workers ({self.max_workers})"
            )
        return self

    @property
    def safe_url(self) -> str:
        """The storage URL with its password masked: the form to log or print."""
        return mask_url(self.url)

    def __repr_args__(self) -> Any:
        for key, value in super().__repr_args__():
            yield key, (self.safe_url if key == "url" else value)


def _log_environment_overrides(settings_cls: type[BaseSettings], values: Mapping[str, Any]) -> None:
    """Log (INFO) each field set in code that a ``TASKCORE_*`` variable overrides; no values."""
    try:
        from_env = EnvSettingsSource(settings_cls)()
    except (ValueError, pydantic.ValidationError):  # already reported by the constructor
        return
    overridden = sorted(values.keys() & from_env.keys())
    if overridden:
        names = ", ".join(f"{field} (TASKCORE_{field.upper()})" for field in overridden)
        log.info("the environment overrides settings set in code: %s", names)


def describe_errors(exc: pydantic.ValidationError) -> str:
    """One line naming every invalid field and why (input values that may be secrets are not
    quoted)."""
    problems = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "settings"
        message = err["msg"].removeprefix("Value error, ")
        problems.append(f"{field}: {message}")
    return "invalid taskcore configuration: " + "; ".join(problems)
