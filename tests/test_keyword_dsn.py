"""libpq keyword/value DSNs (``host=a,b dbname=x``): detected as PostgreSQL, quoted and escaped
as libpq reads them, turned into asyncpg settings, refused with one line naming the keyword,
and never echoing a password. The real-server half is in
``conformance_tests/test_postgres_multihost.py``."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from taskcore import connect
from taskcore.config import Settings, mask_url
from taskcore.errors import ConfigError
from taskcore.urls import is_keyword_dsn, parse_keyword_dsn
from taskcore_postgres import PostgresBackend
from taskcore_postgres.dsn import keyword_dsn_to_url

SECRET = "s3cr3t-value"
WORD = "hunter2"
"""Half of an unquoted password with a space: a word that looks like a keyword."""


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("host=db1 dbname=jobs", [("host", "db1"), ("dbname", "jobs")]),
        ("  host = db1\tport=5432\n", [("host", "db1"), ("port", "5432")]),
        ("password='a b'", [("password", "a b")]),
        (r"password='it\'s \\ x'", [("password", "it's \\ x")]),
        (r"password=no\ space\'s", [("password", "no space's")]),
        ("application_name='' user=u", [("application_name", ""), ("user", "u")]),
        ("dbname=a dbname=b", [("dbname", "a"), ("dbname", "b")]),
    ],
)
def test_keyword_values_are_read_with_libpq_quoting_and_escapes(
    dsn: str, expected: list[tuple[str, str]]
) -> None:
    assert is_keyword_dsn(dsn)
    assert parse_keyword_dsn(dsn) == expected


@pytest.mark.parametrize(
    "url", ["redis://h:6379/0", "postgresql://u@h/db", "memory://", "postgresql://?host=h"]
)
def test_urls_are_not_taken_for_keyword_dsns(url: str) -> None:
    assert not is_keyword_dsn(url)


def test_a_keyword_dsn_connects_the_postgres_driver_with_its_settings() -> None:
    backend = connect(
        f"host=db1,db2 port=5432,5433 dbname=jobs user=app password='{SECRET} x' "
        "target_session_attrs=read-write sslmode=disable application_name='my app' "
        "connect_timeout=7",
        namespace="billing",
    )
    assert isinstance(backend, PostgresBackend) and backend.namespace == "billing"
    assert SECRET not in repr(backend)
    url, options = keyword_dsn_to_url(f"host=db1,db2 port=5432,5433 password='{SECRET} x'")
    assert urlsplit(url).scheme == "postgresql" and options == {}
    query = dict(parse_qsl(urlsplit(url).query))
    assert query == {"host": "db1,db2", "port": "5432,5433", "password": f"{SECRET} x"}
    assert keyword_dsn_to_url("host=h connect_timeout=2.5 dbname=x")[1] == {"timeout": 2.5}
    assert "postgresql://db1:5432,db2:5433/jobs" in repr(backend)


@pytest.mark.parametrize(
    ("dsn", "needle"),
    [
        ("host=db1 colour=red", "unknown keyword 'colour'"),
        ("host=db1 hostaddr=10.0.0.1", "'hostaddr' is not supported by asyncpg"),
        ("host=db1 port=99999", "port is not a number in 1-65535"),
        ("host=a,b,c port=1,2", "3 host(s) and 2 ports"),
        ("host=db1 connect_timeout=soon", "connect_timeout is not a positive number"),
        (f"host=db1 password='{SECRET}", "password value has an unterminated quoted string"),
        (f"host=db1 password={SECRET} more", "word 3 is not keyword=value"),
        (f"host=db1 password=abc {WORD}=x", "unknown keyword after password"),
        ("host=db1 9lives=x", "keyword 2 is not a name"),
    ],
)
def test_a_bad_keyword_dsn_is_one_line_naming_the_part_without_the_password(
    dsn: str, needle: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        connect(dsn)
    message = str(refused.value)
    assert needle in message and "\n" not in message
    assert SECRET not in message and WORD not in message


def test_settings_accept_a_keyword_dsn_and_never_show_its_password() -> None:
    settings = Settings(url=f"host=db1 dbname=jobs password='{SECRET} x' user=app")
    assert settings.url.startswith("host=db1")
    assert settings.safe_url == "host=db1 dbname=jobs password=*** user=app"
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    assert mask_url(f"host=db1 password='{SECRET}") == "<unparseable DSN>"
    with pytest.raises(ConfigError) as refused:
        Settings(url=f"host=db1 password='{SECRET}")
    assert "unterminated" in str(refused.value) and SECRET not in str(refused.value)
