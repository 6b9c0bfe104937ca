"""libpq's keyword/value connection strings, turned into what asyncpg reads.

``taskcore.connect("host=db1,db2 port=5432 dbname=jobs user=app target_session_attrs=read-write")``
is the form ``psql``, psycopg and every libpq program accept (a string without ``://`` that
starts with ``keyword=``; see :func:`taskcore.urls.is_keyword_dsn`). asyncpg reads only the URI
form, so :func:`keyword_dsn_to_url` rewrites it as a ``postgresql://`` URL whose settings are
all query parameters (``postgresql://?host=db1,db2&port=5432&dbname=jobs&...``), which asyncpg
parses exactly like libpq's own URI query, plus asyncpg keyword options for what a URL cannot
carry.

The syntax (quotes, backslash escapes) is read by :func:`taskcore.urls.parse_keyword_dsn`;
a keyword given twice keeps its last value, as in libpq.

Keywords: ``host`` and ``port`` (comma-separated lists, one port for every host or one for
all), ``dbname``, ``user``, ``password``, ``passfile``, ``service``, ``servicefile``,
``target_session_attrs``, ``sslmode``, ``sslcert``, ``sslkey``, ``sslrootcert``, ``sslcrl``,
``sslpassword``, ``sslnegotiation``, ``ssl_min_protocol_version``,
``ssl_max_protocol_version``, ``krbsrvname``, ``gsslib``, ``application_name`` (sent as a
server setting) and ``connect_timeout`` (seconds, asyncpg's ``timeout``). Any other keyword is a
:class:`~taskcore.errors.ConfigError` naming it: libpq keywords asyncpg does not implement
(``hostaddr``, ``options``, ``keepalives``, ...) are refused rather than silently ignored.
No message ever contains a value, so a password cannot leak through one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from taskcore.errors import ConfigError
from taskcore.urls import parse_keyword_dsn

__all__ = ["describe", "keyword_dsn_to_url"]

_QUERY_KEYWORDS = frozenset(
    {
        "host",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "service",
        "target_session_attrs",
        "sslmode",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "sslcrl",
        "sslpassword",
        "sslnegotiation",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "krbsrvname",
        "gsslib",
        "application_name",
    }
)
"""Keywords asyncpg reads from a URL's query string (``application_name``, which it does not
know, goes to the server as a startup setting, as libpq sends it)."""

_OPTION_KEYWORDS = {"connect_timeout": "timeout", "servicefile": "servicefile"}
"""Keywords given to asyncpg as keyword options instead (keyword -> option name)."""

_UNSUPPORTED = frozenset(
    {
        "hostaddr",
        "options",
        "client_encoding",
        "fallback_application_name",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "replication",
        "gssencmode",
        "gssdelegation",
        "requirepeer",
        "require_auth",
        "channel_binding",
        "sslcompression",
        "sslsni",
        "sslcertmode",
        "sslkeylogfile",
        "load_balance_hosts",
        "min_protocol_version",
        "max_protocol_version",
        "scram_client_key",
        "scram_server_key",
    }
)


def _check_ports(pairs: dict[str, str]) -> None:
    ports = pairs["port"].split(",") if "port" in pairs else []
    for port in ports:
        if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            raise ConfigError(
                "the PostgreSQL DSN's port is not a number in 1-65535 (PostgreSQL listens on "
                "5432 by default); give one port, or one per host separated by commas"
            )
    hosts = pairs["host"].split(",") if "host" in pairs else [""]
    if len(ports) > 1 and len(ports) != len(hosts):
        raise ConfigError(
            f"the PostgreSQL DSN lists {len(hosts)} host(s) and {len(ports)} ports; give one "
            "port for all hosts or one per host, in the same order"
        )


def _timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ConfigError(
            "the PostgreSQL DSN's connect_timeout is not a positive number of seconds; e.g. "
            "connect_timeout=10"
        )
    return seconds


def keyword_dsn_to_url(dsn: str) -> tuple[str, dict[str, Any]]:
    """``(url, options)`` for asyncpg from a libpq keyword/value string: a ``postgresql://``
    URL carrying every setting in its query, and asyncpg keyword ``options``
    (``connect_timeout`` becomes ``timeout``, in seconds). :class:`ConfigError` names an
    unknown or unsupported keyword, or a malformed port list, never a value."""
    listed = parse_keyword_dsn(dsn)
    for (keyword, _), (previous, _) in zip(listed, [("", ""), *listed], strict=False):
        if keyword in _QUERY_KEYWORDS or keyword in _OPTION_KEYWORDS:
            continue
        if keyword in _UNSUPPORTED:
            raise ConfigError(
                f"the PostgreSQL DSN keyword {keyword!r} is not supported by asyncpg; remove it "
                "(server settings go in the backend's server_settings={...} option)"
            )
        if previous == "password":
            # "password=a b=c": the word may be the rest of the password, so it is not shown.
            raise ConfigError(
                "the PostgreSQL DSN has an unknown keyword after password (a password with "
                "spaces is quoted: password='a b'); see docs/postgres.md for the keywords"
            )
        raise ConfigError(
            f"the PostgreSQL DSN has an unknown keyword {keyword!r}; see docs/postgres.md "
            "for the keywords taskcore reads"
        )
    pairs = dict(listed)  # a keyword given twice keeps its last value, as in libpq
    _check_ports(pairs)
    query = [(k, v) for k, v in pairs.items() if k in _QUERY_KEYWORDS]
    options: dict[str, Any] = {}
    for keyword, option in _OPTION_KEYWORDS.items():
        if keyword in pairs:
            value = pairs[keyword]
            options[option] = _timeout(value) if keyword == "connect_timeout" else value
    return "postgresql://?" + urlencode(query, quote_via=quote, safe=","), options


def describe(dsn: str) -> str:
    """``postgresql://host:port[,host:port...]/database`` of a URL DSN for messages: every
    host of a list, read from the netloc or from ``?host=``/``?port=``; never credentials."""
    parts = urlsplit(dsn)
    hosts = parts.netloc.rpartition("@")[2]
    database = parts.path
    if not hosts or not database:
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if not hosts and "host" in query:
            names = query["host"].split(",")
            ports = query.get("port", "").split(",")
            ports = ports if len(ports) == len(names) else ports[:1] * len(names)
            hosts = ",".join(f"{h}:{p}" if p else h for h, p in zip(names, ports, strict=True))
        if not database and query.get("dbname"):
            database = "/" + query["dbname"]
    return f"{parts.scheme}://{hosts or 'localhost'}{database}"
