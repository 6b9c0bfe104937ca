"""``connect(url)``: pick a storage driver from a URL scheme.

Schemes resolve lazily through a table of ``"module:callable"`` strings, so importing taskcore
never imports redis, fakeredis or asyncpg. Third-party drivers register under the entry-point
group ``taskcore.drivers`` (name = URL scheme, value = ``"module:factory"``), or at run time with
:func:`register_driver`. A factory is called as ``factory(url, namespace=..., **options)`` and
returns an unopened :class:`~taskcore.backend.Backend`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, cast
from urllib.parse import urlsplit

from taskcore.backend import Backend
from taskcore.errors import DriverNotFound
from taskcore.urls import check_url, is_keyword_dsn

__all__ = ["DEFAULT_URL", "connect", "register_driver"]

DEFAULT_URL = "memory://"

DriverFactory = Callable[..., Backend]

# scheme -> (import path, pip hint)
_BUILTIN: dict[str, tuple[str, str]] = {
    "memory": ("taskcore_memory:from_url", "fakeredis[lua]"),
    "redis": ("taskcore_redis:from_url", "redis"),
    "rediss": ("taskcore_redis:from_url", "redis"),
    "unix": ("taskcore_redis:from_url", "redis"),
    "redis+cluster": ("taskcore_redis.cluster:from_url", "redis"),
    "redis+sentinel": ("taskcore_redis.sentinel:from_url", "redis"),
    "postgresql": ("taskcore_postgres:from_url", "asyncpg sqlalchemy"),
    "postgres": ("taskcore_postgres:from_url", "asyncpg sqlalchemy"),
}
_REGISTERED: dict[str, DriverFactory] = {}


def register_driver(scheme: str, factory: DriverFactory) -> None:
    """Make ``connect()`` use ``factory`` for URLs with ``scheme`` (overrides built-ins)."""
    _REGISTERED[scheme.lower()] = factory


def _load(target: str, scheme: str, hint: str) -> DriverFactory:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DriverNotFound(
            f"the {scheme}:// driver ({module_name}) cannot be imported: {exc}. "
            f"Install its dependencies: pip install {hint}"
        ) from exc
    return cast(DriverFactory, getattr(module, attr))


def _resolve(scheme: str) -> DriverFactory:
    if scheme in _REGISTERED:
        return _REGISTERED[scheme]
    for ep in entry_points(group="taskcore.drivers"):
        if ep.name == scheme:
            return cast(DriverFactory, ep.load())
    if scheme in _BUILTIN:
        target, hint = _BUILTIN[scheme]
        return _load(target, scheme, hint)
    known = sorted({*_BUILTIN, *_REGISTERED})
    raise DriverNotFound(
        f"no taskcore driver for URL scheme {scheme!r}; known schemes: {', '.join(known)}. "
        "Install a driver package that registers it under the 'taskcore.drivers' entry point."
    )


def connect(url: str = DEFAULT_URL, *, namespace: str = "resque", **options: Any) -> Backend:
    """Build the backend a URL names; open it with ``async with`` or ``await backend.open()``.

    ``memory://`` (the default) is in-process; ``redis://``, ``rediss://`` and ``unix://`` reach
    a Redis server; ``postgresql://`` a PostgreSQL server, as does libpq's keyword/value form
    (``"host=db1,db2 dbname=jobs target_session_attrs=read-write"``, see docs/postgres.md).
    ``namespace`` prefixes every key (Redis) or selects the schema's namespace column
    (PostgreSQL).
    """
    checked = check_url(url)  # ConfigError naming the bad part
    scheme = "postgresql" if is_keyword_dsn(checked) else urlsplit(checked).scheme.lower()
    return _resolve(scheme)(url, namespace=namespace, **options)
