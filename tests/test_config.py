"""Settings from code, environment and TOML; errors name the field; secrets stay masked."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from taskcore.app import App
from taskcore.config import Settings, mask_url
from taskcore.errors import ConfigError, DriverNotFound
from taskcore.queue import Queue
from taskcore.registry import connect
from taskcore.tasks import TaskRegistry


class AuditedQueue(Queue):
    """A Queue override for the resque_overrides tests."""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("TASKCORE_"):
            monkeypatch.delenv(key)


def test_defaults() -> None:
    s = Settings()
    assert (s.url, s.namespace, s.queues, s.scheduler) == ("memory://", "resque", ["*"], True)
    assert s.timeout == 5.0 and s.stuck_worker_timeout == 3600.0
    assert s.resque_overrides.resolve("queue") is Queue


def test_environment_with_prefix_and_nested_delimiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKCORE_URL", "redis://localhost:6379/3")
    monkeypatch.setenv("TASKCORE_QUEUES", "high, low")
    monkeypatch.setenv("TASKCORE_MAX_WORKERS", "3")
    monkeypatch.setenv("TASKCORE_RESQUE_OVERRIDES__QUEUE", f"{__name__}:AuditedQueue")
    s = Settings()
    assert s.url == "redis://localhost:6379/3"
    assert s.queues == ["high", "low"]
    assert s.max_workers == 3
    assert s.resque_overrides.resolve("queue") is AuditedQueue
    monkeypatch.setenv("TASKCORE_QUEUES", '["a","b"]')
    assert Settings().queues == ["a", "b"]


def test_toml_file_and_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "taskcore.toml"
    file.write_text(
        'url = "redis://db:6379/1"\nnamespace = "app"\ntimeout = 2.5\n'
        f'[resque_overrides]\nqueue = "{__name__}:AuditedQueue"\n'
    )
    s = Settings.load(file)
    assert (s.url, s.namespace, s.timeout) == ("redis://db:6379/1", "app", 2.5)
    assert s.resque_overrides.queue == f"{__name__}:AuditedQueue"
    monkeypatch.setenv("TASKCORE_NAMESPACE", "from-env")
    assert Settings.load(file).namespace == "from-env"  # env beats the file
    assert Settings.load(file, namespace="code").namespace == "code"  # code beats env
    monkeypatch.setenv("TASKCORE_CONFIG", str(file))
    assert Settings.load().timeout == 2.5


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"queues": []}, "queues"),
        ({"url": "localhost:6379"}, "url"),
        ({"min_workers": 5, "max_workers": 2}, "min_workers"),
        ({"leader_lock_timeout": 0}, "leader_lock_timeout"),
        ({"no_such_option": 1}, "no_such_option"),
        ({"resque_overrides": {"queue": "taskcore.worker:Worker"}}, "resque_overrides"),
        ({"resque_overrides": {"scheduler": "nowhere.module:X"}}, "scheduler"),
    ],
)
def test_invalid_values_fail_naming_the_field(values: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        Settings(**values)


@pytest.mark.parametrize("field", ["stuck_worker_timeout", "shutdown_timeout"])
@pytest.mark.parametrize("word", ["none", "None", "NULL", " null ", ""])
def test_optional_durations_are_disabled_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, field: str, word: str
) -> None:
    monkeypatch.setenv(f"TASKCORE_{field.upper()}", word)
    assert getattr(Settings(), field) is None


@pytest.mark.parametrize("field", ["stuck_worker_timeout", "shutdown_timeout"])
def test_optional_durations_are_disabled_from_toml(tmp_path: Path, field: str) -> None:
    file = tmp_path / "taskcore.toml"
    file.write_text(f'{field} = "none"\n')
    assert getattr(Settings.load(file), field) is None
    file.write_text(f"{field} = 12.5\n")
    assert getattr(Settings.load(file), field) == 12.5


def test_optional_durations_still_take_numbers_and_none_from_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASKCORE_STUCK_WORKER_TIMEOUT", "90")
    monkeypatch.setenv("TASKCORE_SHUTDOWN_TIMEOUT", "0")
    s = Settings()
    assert (s.stuck_worker_timeout, s.shutdown_timeout) == (90.0, 0.0)
    s = Settings.load(stuck_worker_timeout=None, shutdown_timeout=None)  # overrides beat env
    assert (s.stuck_worker_timeout, s.shutdown_timeout) == (None, None)
    monkeypatch.delenv("TASKCORE_STUCK_WORKER_TIMEOUT")
    monkeypatch.delenv("TASKCORE_SHUTDOWN_TIMEOUT")
    s = Settings(stuck_worker_timeout=None, shutdown_timeout=None)
    assert (s.stuck_worker_timeout, s.shutdown_timeout) == (None, None)


@pytest.mark.parametrize("field", ["stuck_worker_timeout", "shutdown_timeout"])
@pytest.mark.parametrize("value", ["false", "true"])
def test_optional_durations_refuse_booleans_and_words(
    tmp_path: Path, field: str, value: str
) -> None:
    # TOML false would otherwise be read as 0 seconds (cancel every job at shutdown), true as 1.
    file = tmp_path / "taskcore.toml"
    file.write_text(f"{field} = {value}\n")
    with pytest.raises(ConfigError, match=f'{field}: .*"none" to disable'):
        Settings.load(file)
    with pytest.raises(ConfigError, match=f'{field}: .*"none" to disable'):
        Settings(**{field: "never"})


def test_invalid_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("timeout = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load(bad)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("max_workers = -1\n")
    with pytest.raises(ConfigError, match=r"max_workers.*wrong\.toml"):
        Settings.load(wrong)


def test_the_password_never_shows() -> None:
    s = Settings(url="redis://user:hunter2@cache:6379/0")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s)
    assert s.safe_url == "redis://user:***@cache:6379/0"
    assert s.url.endswith("hunter2@cache:6379/0")  # still usable
    assert mask_url("memory://") == "memory://"
    assert "hunter2" not in repr(App(s))
    with pytest.raises(ConfigError) as info:
        Settings(url="redis://user:hunter2@cache:6379/0", timeout=-1)
    assert "hunter2" not in str(info.value)


async def test_app_builds_the_configured_queue_class() -> None:
    settings = Settings(
        url="memory://config-test",
        namespace="override",
        scheduler=False,
        max_workers=0,
        resque_overrides={"queue": f"{__name__}:AuditedQueue"},
    )
    app = App(settings, TaskRegistry())
    await app.open()
    try:
        assert type(app.queue) is AuditedQueue
    finally:
        await app.stop()


def test_a_password_in_the_query_string_is_masked_too() -> None:
    # libpq (postgresql://...?password=) and redis-py (redis://...?password=) both read it
    s = Settings(url="postgresql://app@db.internal/jobs?sslmode=require&password=hunter2")
    assert "hunter2" not in s.safe_url and "hunter2" not in repr(s) and "hunter2" not in str(s)
    assert "sslmode=require" in s.safe_url and "password=***" in s.safe_url
    assert "hunter2" not in mask_url("redis://host:6379/0?Password=hunter2")
    assert "hunter2" not in mask_url("redis://:hunter2@host:notaport/0")


# ------------------------------------------------------------------ precedence


def test_the_environment_beats_settings_set_in_code(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # "swap to Redis in production": an App whose code says memory:// used to ignore
    # TASKCORE_URL silently
    monkeypatch.setenv("TASKCORE_URL", "redis://:hunter2@prod:6379/0")
    with caplog.at_level(logging.INFO, logger="taskcore.config"):
        s = Settings(url="memory://", namespace="code")
    assert s.url == "redis://:hunter2@prod:6379/0"
    assert s.namespace == "code"  # a field the environment does not set stays as coded
    assert "url (TASKCORE_URL)" in caplog.text and "hunter2" not in caplog.text
    assert App(Settings(url="memory://")).settings.url == "redis://:hunter2@prod:6379/0"


def test_precedence_is_flags_then_environment_then_file_then_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "taskcore.toml"
    file.write_text('namespace = "file"\ntimeout = 2.5\nmax_workers = 7\n')
    code = {"namespace": "code", "timeout": 9.0, "max_workers": 3, "min_workers": 2}
    monkeypatch.setenv("TASKCORE_TIMEOUT", "4")
    s = Settings.load(file, defaults=code, max_workers=5)
    assert s.max_workers == 5  # flag > environment, file and code
    assert s.timeout == 4.0  # environment > file and code
    assert s.namespace == "file"  # file > code
    assert s.min_workers == 2  # code > built-in default


# ------------------------------------------------------------------ storage URLs


@pytest.mark.parametrize(
    ("url", "part"),
    [
        ("postgresql://u:hunter2@db:99999/jobs", "port 99999 is out of range"),  # OverflowError
        ("postgresql://u:hunter2@db:abc/jobs", "port is not a number"),
        ("postgres://u:hunter2@db:0/jobs", "port 0 is out of range"),
        ("postgresql://u:hunter2@a:5432,b:70000/jobs", "port 70000 is out of range"),
        ("postgresql://u:hunter2@db/jobs?port=99999", "?port= 99999 is out of range"),
        ("postgresql://u:hunter2@db:/jobs", "no port"),
        ("redis://:hunter2@cache:6379/abc", "database in the path is not a number"),  # used db 0
        ("redis://:hunter2@cache:6379/-1", "database in the path is not a number"),
        ("redis://:hunter2@cache:6379/1/2", "path has more than one part"),  # read as db 12
        ("redis://:hunter2@cache:6379/0?db=x", "database in ?db= is not a number"),
        ("redis://:hunter2@cache:0/0", "port 0 is out of range"),  # read as 6379
        ("redis://:hunter2@cache:99999/0", "port 99999 is out of range"),
        ("redis://:hunter2@", "names no host"),  # connected to localhost
        ("rediss://", "names no host"),
        ("unix://", "no socket path"),
        ("unix://run/redis.sock", "names a host"),  # redis-py dropped "run"
        ("", "is empty"),  # --url "" used memory://
        ("   ", "is empty"),
        (" redis://:hunter2@cache:6379/0", "leading or trailing whitespace"),
        ("redis://:hunter2@cache:6379/0\n", "leading or trailing whitespace"),
        ("redis://:hunter 2@cache:6379/0", "space or control character"),
        ("cache:6379", "has no scheme"),
        ("//cache:6379", "has no scheme"),
    ],
)
def test_a_bad_storage_url_is_one_line_naming_the_part(url: str, part: str) -> None:
    for build in (lambda: Settings(url=url), lambda: connect(url)):
        with pytest.raises(ConfigError) as info:
            build()
        message = str(info.value)
        assert part in message
        assert "\n" not in message and "hunter" not in message


def test_an_unknown_scheme_fails_at_connect_listing_the_known_ones() -> None:
    assert Settings(url="thirdparty://anything").url == "thirdparty://anything"  # its driver's
    with pytest.raises(DriverNotFound, match="'nosuch'; known schemes: memory, postgres"):
        connect("nosuch://u:hunter2@host")


@pytest.mark.parametrize(
    "url",
    [
        "memory://",
        "memory://named",
        "redis://localhost",
        "redis://:pw@cache:6379/15",
        "redis://user:pw@[::1]:6379/0?socket_timeout=5",
        "rediss://cache:6380/0",
        "unix:///run/redis/redis.sock?db=2",
        "postgresql://",  # libpq defaults (PGHOST, the local socket)
        "postgres://app@db/jobs",
        "postgresql://app:pw@db1:5432,db2:5433/jobs?sslmode=require",
        "postgresql://[::1]:5432/jobs?port=5432",
    ],
)
def test_good_storage_urls_pass(url: str) -> None:
    assert Settings(url=url).url == url


async def test_a_postgres_port_out_of_range_is_a_config_error_at_open() -> None:
    # PostgresBackend built from a DSN directly skips from_url; asyncpg raised OverflowError
    from taskcore_postgres import PostgresBackend

    backend = PostgresBackend("postgresql://u:hunter2@127.0.0.1:99999/db")
    with pytest.raises(ConfigError) as info:
        await backend.open()
    assert "port 99999 is out of range" in str(info.value)
    assert "hunter2" not in str(info.value)
