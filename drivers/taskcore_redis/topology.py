"""URL forms of the Redis topologies beyond one server, and the Cluster hash-tag rule.

* ``redis+cluster://[[user]:password@]host[:port][,host[:port]...][/][?option=value...]``: a
  Redis Cluster reached through any of the listed seed nodes (port 6379 by default); the
  client discovers the others. A cluster has database 0 only.
* ``redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db][?...]``: the
  primary that the listed Sentinels (port 26379 by default) name for ``service``, followed on
  failover. The user and password are the data nodes'; Sentinels that need their own are given
  ``sentinel_kwargs={"password": ...}`` in code.

Query options, both forms: ``socket_timeout`` and ``socket_connect_timeout`` (seconds);
cluster only: ``pubsub`` = ``auto`` (default), ``sharded`` or ``classic`` (see
:mod:`taskcore_redis.cluster`). Anything else is refused, so a typo is not silently ignored.

Every check raises :class:`~taskcore.errors.ConfigError` with one line naming the wrong part;
the password never appears in a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from taskcore.errors import ConfigError
from taskcore_redis.access import with_text_defaults

__all__ = [
    "CLUSTER_SCHEMES",
    "SENTINEL_SCHEMES",
    "Target",
    "hash_tag",
    "parse_cluster_url",
    "parse_sentinel_url",
    "require_hash_tag",
]

CLUSTER_SCHEMES = frozenset({"redis+cluster"})
SENTINEL_SCHEMES = frozenset({"redis+sentinel"})
_FLOAT_OPTIONS = ("socket_timeout", "socket_connect_timeout")
_PUBSUB_MODES = ("auto", "sharded", "classic")
_CLUSTER_FORM = "redis+cluster://[[user]:password@]host:port[,host:port...]"
_SENTINEL_FORM = "redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]"


@dataclass(frozen=True, slots=True)
class Target:
    """What a topology URL names: seed ``nodes`` (Cluster) or Sentinels, credentials, the
    Sentinel ``service`` and ``db``, and client ``options`` from the query string."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    service: str = ""
    db: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def describe(self, scheme: str) -> str:
        """``scheme://h1:p1,h2:p2[/service]`` for messages: no credentials."""
        hosts = ",".join(f"{host}:{port}" for host, port in self.nodes)
        return f"{scheme}://{hosts}" + (f"/{self.service}" if self.service else "")

    def client_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Options for the data connections: the URL's query options with ``options`` over
        them, the text defaults (:func:`~taskcore_redis.access.with_text_defaults`) and the
        URL's credentials, each unless given."""
        merged = with_text_defaults({**self.options, **options})
        if self.username is not None:
            merged.setdefault("username", self.username)
        if self.password is not None:
            merged.setdefault("password", self.password)
        return merged


def hash_tag(namespace: str) -> str | None:
    """The Redis Cluster hash tag every key ``<namespace>:...`` hashes by, or None.

    Redis hashes a key by the text between its first ``{`` and the first ``}`` after it, when
    that text is not empty. For the tag to be the namespace's whatever follows it, both braces
    must be inside the namespace: ``{resque}`` and ``jobs{eu}`` qualify; ``resque``,
    ``{}resque`` and ``a{b`` do not.
    """
    start = namespace.find("{")
    if start == -1:
        return None
    end = namespace.find("}", start + 1)
    if end == -1 or end == start + 1:
        return None
    return namespace[start + 1 : end]


def require_hash_tag(namespace: str) -> str:
    """``namespace`` if it is a hash tag (:func:`hash_tag`); else ConfigError saying what to
    use. Every script of the driver touches several keys of one namespace at once, and a
    cluster runs a script only when all its keys live in one slot."""
    if hash_tag(namespace) is None:
        suggestion = "{" + (namespace.replace("{", "").replace("}", "") or "resque") + "}"
        raise ConfigError(
            f"namespace {namespace!r} cannot be used on a Redis Cluster: every key of a "
            f"namespace must live in one slot; write it as a hash tag, e.g. {suggestion!r}"
        )
    return namespace


def _nodes(
    hostports: str, scheme: str, form: str, default_port: int
) -> tuple[tuple[str, int], ...]:
    if not hostports:
        raise ConfigError(f"the {scheme}:// URL names no host; write it as {form}")
    nodes: list[tuple[str, int]] = []
    for one in hostports.split(","):
        if one.startswith("["):
            host, _, rest = one[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else rest
            if rest and not rest.startswith(":"):
                raise ConfigError(f"the {scheme}:// URL has text after an IPv6 host's ']'")
        else:
            host, sep, port_text = one.rpartition(":")
            if not sep:
                host, port_text = one, ""
        if not host:
            raise ConfigError(
                f"the {scheme}:// URL has an empty host in its host list; write it as {form}"
            )
        if port_text and (not port_text.isascii() or not port_text.isdigit()):
            raise ConfigError(f"the {scheme}:// URL's port of {host} is not a number")
        port = int(port_text) if port_text else default_port
        if not 1 <= port <= 65535:
            raise ConfigError(f"the {scheme}:// URL's port of {host} is out of range 1-65535")
        nodes.append((host, port))
    return tuple(nodes)


def _options(query: str, scheme: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in _FLOAT_OPTIONS:
            try:
                seconds = float(value)
            except ValueError:
                seconds = -1.0
            if not seconds > 0 or seconds == float("inf"):
                raise ConfigError(
                    f"the {scheme}:// URL's ?{key}= must be a positive number of seconds"
                )
            options[key] = seconds
        elif key == "pubsub" and "pubsub" in allowed:
            if value not in _PUBSUB_MODES:
                raise ConfigError(
                    f"the {scheme}:// URL's ?pubsub= must be one of {', '.join(_PUBSUB_MODES)}"
                )
            options[key] = value
        else:
            names = ", ".join((*_FLOAT_OPTIONS, *allowed))
            raise ConfigError(f"the {scheme}:// URL has unknown option ?{key}=; known: {names}")
    return options


def _split(url: str, schemes: frozenset[str], form: str) -> tuple[str, Any]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise ConfigError(f"not a {' or '.join(sorted(schemes))} URL; write it as {form}")
    if parts.fragment:
        raise ConfigError(f"the {scheme}:// URL has a #fragment; remove it")
    return scheme, parts


def _credentials(netloc: str) -> tuple[str | None, str | None, str]:
    userinfo, at, hostports = netloc.rpartition("@")
    if not at:
        return None, None, netloc
    user, colon, password = userinfo.partition(":")
    return (unquote(user) or None), (unquote(password) if colon else None), hostports


def parse_cluster_url(url: str) -> Target:
    """The seed nodes, credentials and options of a ``redis+cluster://`` URL."""
    scheme, parts = _split(url, CLUSTER_SCHEMES, _CLUSTER_FORM)
    username, password, hostports = _credentials(parts.netloc)
    if parts.path.strip("/") not in ("", "0"):
        raise ConfigError(
            f"the {scheme}:// URL names database {parts.path.strip('/')!r}; a Redis Cluster "
            "has database 0 only: remove the path, and use a namespace to keep data apart"
        )
    return Target(
        nodes=_nodes(hostports, scheme, _CLUSTER_FORM, 6379),
        username=username,
        password=password,
        options=_options(parts.query, scheme, ("pubsub",)),
    )


def parse_sentinel_url(url: str) -> Target:
    """The Sentinels, service name, database, credentials and options of a
    ``redis+sentinel://`` URL."""
    scheme, parts = _split(url, SENTINEL_SCHEMES, _SENTINEL_FORM)
    username, password, hostports = _credentials(parts.netloc)
    path = [unquote(p) for p in parts.path.strip("/").split("/")] if parts.path.strip("/") else []
    if not path or not path[0]:
        raise ConfigError(
            f"the {scheme}:// URL names no service; write it as {_SENTINEL_FORM} "
            "(the name of 'sentinel monitor <name> ...' in sentinel.conf)"
        )
    if len(path) > 2:
        raise ConfigError(f"the {scheme}:// URL's path has too many parts; use /service[/db]")
    db_text = path[1] if len(path) == 2 else "0"
    if not db_text.isascii() or not db_text.isdigit():
        raise ConfigError(f"the {scheme}:// URL's database {db_text!r} is not a number >= 0")
    return Target(
        nodes=_nodes(hostports, scheme, _SENTINEL_FORM, 26379),
        username=username,
        password=password,
        service=path[0],
        db=int(db_text),
        options=_options(parts.query, scheme, ()),
    )
