"""connect(url): scheme table, run-time registration, entry points, install hints."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from taskcore import registry
from taskcore.backend import Backend
from taskcore.errors import ConfigError, DriverNotFound
from taskcore.registry import connect, register_driver

SENTINEL: Any = object()
calls: list[tuple[str, dict[str, Any]]] = []


def fake_factory(url: str, **kwargs: Any) -> Backend:
    """A driver factory that records how connect() called it."""
    calls.append((url, kwargs))
    result: Backend = SENTINEL
    return result


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    # register_driver writes a module-level table; keep each test's registrations to itself.
    monkeypatch.setattr(registry, "_REGISTERED", {})
    calls.clear()


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(DriverNotFound) as info:
        connect("nosuch://host")
    message = str(info.value)
    assert "'nosuch'" in message
    for scheme in ("memory", "postgresql", "redis"):
        assert scheme in message
    assert "taskcore.drivers" in message


def test_driver_not_found_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        connect("nosuch://host")


def test_url_without_scheme_is_a_config_error() -> None:
    for url, problem in (("127.0.0.1:6379", "has no scheme"), ("", "is empty")):
        with pytest.raises(ConfigError, match=problem) as info:
            connect(url)
        assert not isinstance(info.value, DriverNotFound)


def test_registered_driver_gets_url_namespace_and_options() -> None:
    register_driver("acme", fake_factory)
    assert connect("acme://db/1", namespace="ns", pool=3) is SENTINEL
    assert calls == [("acme://db/1", {"namespace": "ns", "pool": 3})]


def test_scheme_match_is_case_insensitive() -> None:
    register_driver("ACME", fake_factory)
    assert connect("Acme://x") is SENTINEL


def test_default_namespace_is_resque() -> None:
    register_driver("acme", fake_factory)
    connect("acme://x")
    assert calls[0][1]["namespace"] == "resque"


def test_register_driver_overrides_a_builtin_scheme() -> None:
    register_driver("memory", fake_factory)
    assert connect("memory://") is SENTINEL
    assert calls == [("memory://", {"namespace": "resque"})]


def test_entry_point_group_provides_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = EntryPoint(name="acme", value=f"{__name__}:fake_factory", group="taskcore.drivers")
    seen_groups: list[str] = []

    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        seen_groups.append(group)
        return [ep] if group == "taskcore.drivers" else []

    monkeypatch.setattr(registry, "entry_points", fake_entry_points)
    assert connect("acme://x", namespace="n") is SENTINEL
    assert seen_groups == ["taskcore.drivers"]
    assert calls == [("acme://x", {"namespace": "n"})]


def test_missing_dependency_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        registry._BUILTIN, "fake", ("taskcore_no_such_module:from_url", "fake-extra")
    )
    with pytest.raises(DriverNotFound, match="pip install fake-extra"):
        connect("fake://x")


def test_importing_taskcore_imports_no_driver_dependency() -> None:
    # A fresh interpreter: this test process has drivers imported by other tests.
    code = (
        "import sys, taskcore; "
        "print(sorted(m for m in ('redis', 'fakeredis', 'asyncpg', 'sqlalchemy') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
