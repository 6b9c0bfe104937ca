"""Checks of a storage URL's form, before any driver is built or any server is dialled.

:func:`check_url` refuses, with one :class:`~taskcore.errors.ConfigError` line naming the part
that is wrong, what a client library would otherwise misread silently or crash on: an empty URL,
whitespace, a missing scheme, a port that is not a number in 1..65535 (asyncpg raised a raw
OverflowError for ``:99999``; redis-py read ``:0`` as its default port), a Redis database that is
not a number (``redis://host/abc`` used database 0), a Redis URL without a host, a ``unix://``
URL without a socket path. The password is never part of a message.

It knows the URL forms of the built-in schemes (``memory``, ``redis``, ``rediss``, ``unix``,
``postgresql``/``postgres``); for any other scheme only the scheme-independent rules apply, the
rest is the third-party driver's business. A string without a scheme that starts with
``keyword=`` is libpq's keyword/value form of a PostgreSQL DSN (``host=db1,db2 dbname=jobs``,
:func:`is_keyword_dsn`): its syntax is checked here (:func:`parse_keyword_dsn`), its keywords by
the PostgreSQL driver, and :func:`mask_keyword_dsn` hides its password. The drivers call
:func:`check_url` from ``from_url``; :class:`~taskcore.config.Settings` calls it when the
settings are built.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from taskcore.errors import ConfigError

__all__ = ["check_url", "is_keyword_dsn", "mask_keyword_dsn", "parse_keyword_dsn"]

_EXAMPLES = "e.g. memory://, redis://host:6379/0 or postgresql://user@host:5432/db"
_REDIS = frozenset({"redis", "rediss"})
_POSTGRES = frozenset({"postgresql", "postgres"})
_SPACE = re.compile(r"[\s\x00-\x1f\x7f]")
_ENCODE = " (a password containing / ? # @ or : must be percent-encoded)"
_PORT_HINT = {"redis": 6379, "rediss": 6379, "postgresql": 5432, "postgres": 5432}


def check_url(url: object) -> str:
    """``url`` unchanged when its form is usable; :class:`ConfigError` naming the wrong part.

    Only the form is checked: whether the host answers is the driver's business at ``open``.
    """
    if not isinstance(url, str):
        raise ConfigError(f"the storage URL must be a string, not {type(url).__name__}")
    if not url.strip():
        raise ConfigError(f"the storage URL is empty; set one, {_EXAMPLES}")
    if is_keyword_dsn(url):
        parse_keyword_dsn(url)
        return url
    if url != url.strip():
        raise ConfigError(
            "the storage URL has leading or trailing whitespace (a stray newline from an env "
            "file?); remove it"
        )
    if _SPACE.search(url):
        raise ConfigError(
            "the storage URL contains a space or control character; remove it (inside a "
            "password, percent-encode it: a space is %20)"
        )
    scheme, sep, _ = url.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        raise ConfigError(f"the storage URL has no scheme; start it with one, {_EXAMPLES}")
    scheme = scheme.lower()
    if scheme in _REDIS:
        _check_redis(url, scheme)
    elif scheme == "unix":
        _check_unix(url)
    elif scheme in _POSTGRES:
        _check_postgres(url, scheme)
    return url


def _hostport(netloc: str) -> str:
    """The host[:port] part of a netloc: what follows the last ``@`` (never the password)."""
    return netloc.rpartition("@")[2]


def _split_host(hostport: str) -> tuple[str, str | None]:
    """``(host, port text or None)`` of one ``host[:port]``; an IPv6 host keeps its brackets."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end == -1:
            raise ConfigError("the storage URL's IPv6 host lacks the closing ']'")
        rest = hostport[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ConfigError("the storage URL's IPv6 host has text after ']' that is not :port")
        return hostport[: end + 1], (rest[1:] if rest else None)
    host, sep, port = hostport.rpartition(":")
    return (host, port) if sep else (hostport, None)


def _check_port(text: str, scheme: str, where: str = "port") -> None:
    default = _PORT_HINT.get(scheme)
    hint = f" ({scheme} servers listen on {default} by default)" if default else ""
    if not text.isascii() or not text.isdigit():
        raise ConfigError(
            f"the storage URL's {where} is not a number; give a port in 1-65535{hint}{_ENCODE}"
        )
    if not 1 <= int(text) <= 65535:
        raise ConfigError(
            f"the storage URL's {where} {int(text)} is out of range; give a port in 1-65535{hint}"
        )


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def _check_db(text: str, where: str) -> None:
    if not text.isascii() or not text.isdigit():
        raise ConfigError(
            f"the Redis database {where} is not a number; use a database index >= 0, "
            f"e.g. redis://host:6379/0{_ENCODE}"
        )


def _check_redis(url: str, scheme: str) -> None:
    parts = urlsplit(url)
    host, port = _split_host(_hostport(parts.netloc))
    if not host or host == "[]":
        raise ConfigError(
            f"the {scheme}:// URL names no host; write it, e.g. {scheme}://localhost:6379/0 "
            "(a variable that expanded to nothing?)"
        )
    if port is not None:
        _check_port(port, scheme)
    path = parts.path.strip("/")
    if "/" in path:
        raise ConfigError(
            f"the {scheme}:// URL's path has more than one part; the path is the database index "
            f"only, e.g. /0{_ENCODE}"
        )
    if path:
        _check_db(path, "in the path")
    for key, value in _query(url):
        if key == "db":
            _check_db(value, "in ?db=")


def _check_unix(url: str) -> None:
    parts = urlsplit(url)
    if _hostport(parts.netloc):
        raise ConfigError(
            "the unix:// URL names a host; write the socket's absolute path after three "
            "slashes, e.g. unix:///run/redis/redis.sock"
        )
    if not parts.path.strip("/"):
        raise ConfigError(
            "the unix:// URL has no socket path; e.g. unix:///run/redis/redis.sock?db=0"
        )
    for key, value in _query(url):
        if key == "db":
            _check_db(value, "in ?db=")


def _check_postgres(url: str, scheme: str) -> None:
    """libpq's URI form: ``postgresql://[user[:password]@][host][:port][,...][/db][?...]``;
    an empty host is allowed (libpq's defaults and ``PG*`` variables apply)."""
    parts = urlsplit(url)
    hostports = _hostport(parts.netloc)
    if hostports:
        for hostport in hostports.split(","):
            _, port = _split_host(hostport)
            if port is not None and port != "":
                _check_port(port, scheme)
            elif port == "":
                raise ConfigError(
                    "the storage URL has ':' after a host but no port; remove it or give a port "
                    "in 1-65535 (PostgreSQL listens on 5432 by default)"
                )
    for key, value in _query(url):
        if key == "port":
            for one in value.split(","):
                _check_port(one, scheme, where="?port=")


# ---------------------------------------------------------------- libpq keyword/value DSNs

_KEYWORD_START = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*=")
_KEYWORD_FORM = "keyword=value pairs separated by spaces, e.g. host=db1,db2 port=5432 dbname=jobs"


def is_keyword_dsn(url: object) -> bool:
    """True for libpq's keyword/value connection string (``host=db1 dbname=jobs``): a string
    that starts with ``keyword=`` (a URL starts with ``scheme:``, so the two never overlap).
    Such a string names a PostgreSQL server."""
    return isinstance(url, str) and _KEYWORD_START.match(url) is not None


def parse_keyword_dsn(dsn: str) -> list[tuple[str, str]]:
    """The ``(keyword, value)`` pairs of a libpq keyword/value string, in order.

    The syntax is libpq's (``conninfo_parse``): ``keyword = value`` pairs separated by
    whitespace, spaces around ``=`` allowed; a value with spaces, or an empty one, is written in
    single quotes; inside or outside quotes a backslash escapes the next character (``\\'``,
    ``\\\\``). Which keywords are valid is the driver's business. :class:`ConfigError` says
    where the syntax breaks by position and keyword, never showing a value or a word that may
    be part of one (an unquoted password with a space).
    """
    pairs: list[tuple[str, str]] = []
    i, n = 0, len(dsn)
    while True:
        while i < n and dsn[i].isspace():
            i += 1
        if i == n:
            break
        start = i
        while i < n and dsn[i] != "=" and not dsn[i].isspace():
            i += 1
        keyword = dsn[start:i]
        while i < n and dsn[i].isspace():
            i += 1
        if i == n or dsn[i] != "=" or not keyword:
            raise ConfigError(
                f"the PostgreSQL DSN's word {len(pairs) + 1} is not keyword=value (a value with "
                f"spaces is quoted: password='a b'); write {_KEYWORD_FORM}"
            )
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", keyword):
            raise ConfigError(
                f"the PostgreSQL DSN's keyword {len(pairs) + 1} is not a name (letters, digits, "
                f"_); write {_KEYWORD_FORM}"
            )
        i += 1
        while i < n and dsn[i].isspace():
            i += 1
        value, i = _keyword_value(dsn, i, keyword)
        if "\x00" in value:
            raise ConfigError(f"the PostgreSQL DSN's {keyword} contains a NUL character")
        pairs.append((keyword, value))
    return pairs


def _keyword_value(dsn: str, i: int, keyword: str) -> tuple[str, int]:
    """The value starting at ``dsn[i]``, unquoted and unescaped, and the index after it."""
    out: list[str] = []
    n = len(dsn)
    quoted = i < n and dsn[i] == "'"
    i += quoted
    while i < n and (quoted or not dsn[i].isspace()):
        char = dsn[i]
        if char == "\\" and i + 1 < n:
            out.append(dsn[i + 1])
            i += 2
            continue
        if quoted and char == "'":
            return "".join(out), i + 1
        out.append(char)
        i += 1
    if quoted:
        raise ConfigError(
            f"the PostgreSQL DSN's {keyword} value has an unterminated quoted string; close it "
            "with ' (a quote inside it is written \\')"
        )
    return "".join(out), i


def _quote_keyword_value(value: str) -> str:
    if value and not any(c.isspace() or c in "'\\" for c in value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def mask_keyword_dsn(dsn: str) -> str:
    """A libpq keyword/value string with its password shown as ``***``, for logs and messages;
    ``<unparseable DSN>`` when its syntax is broken (so nothing of it is echoed)."""
    try:
        pairs = parse_keyword_dsn(dsn)
    except ConfigError:
        return "<unparseable DSN>"
    return " ".join(
        f"{k}=***" if k.lower() in ("password", "sslpassword") else f"{k}={_quote_keyword_value(v)}"
        for k, v in pairs
    )
