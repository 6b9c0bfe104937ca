"""taskcore against node-resque 9, side by side: drain rates in interleaved rounds, medians, ratios.

Run: ``python -m benchmarks.compare [--jobs 5000] [--rounds 3] [--only NAME,...]
[--soak 1000000]``

Every scenario drains ``--jobs`` no-op jobs from one queue; a round runs each scenario once, in
turn, so load from elsewhere on the machine spreads over all of them; the table shows each
scenario's median jobs/s and the ratio to its node-resque counterpart. Servers (Redis,
PostgreSQL) and node-resque are found or started exactly as the test suite does
(``conformance_tests.servers``; node-resque 9 from ``conformance_tests/node/package.json``).

On Redis every scenario starts the same way: the jobs wait in a staging list, then one RENAME
moves them to the queue (taskcore workers are woken by a PUBLISH on the wake-up channel,
node-resque's poll at 10 ms finds them) and the clock runs from the RENAME to the last job's
success, so enqueueing costs nothing and wake-up paths count alike. Scenarios:

* ``redis 1 worker``: one taskcore Worker / one node-resque Worker (``timeout`` 10 ms).
* ``redis pool``: taskcore's MultiWorker with its defaults (``taskcore run``'s) / node-resque's
  MultiWorker with its defaults.
* ``redis processes``: ``taskcore worker --processes <cores>`` (supervised processes, each its
  default pool) / node-resque's MultiWorker.
* ``memory``, ``postgres``: one Worker and the default pool (jobs enqueued first, clock from
  the worker's start); on PostgreSQL also a pool of ten fixed workers. node-resque has no
  such drivers; PostgreSQL's pool is compared to its
  one worker.
* ``pgqueuer C=10``: pgqueuer 1.6 draining the same number of no-op jobs with ten concurrent
  jobs (``benchmarks/pgqueuer_drain.py``), run by ``--pgqueuer-python`` (a Python that has
  pgqueuer installed; a benchmark-only dependency, never one of taskcore's): compared with
  taskcore's default pool on PostgreSQL. Left out when no such Python is given.
* ``idle latency``: enqueue-to-start p50 with one idle worker (ms; lower is better).
* ``redis round trip us``, ``postgres commit ms``: the machine's floors, measured in the same
  rounds (a PING on one connection; a durable one-row INSERT): a shared machine's speed moves
  by 2-3x between days, so the per-job cost beyond one round trip and the latency in commits
  are printed beside the absolute figures.

``--soak N`` runs one Redis worker and one PostgreSQL worker (``--soak-drivers``) over N jobs
each (in batches) and prints the process's RSS every 10% of the way, to show it stays flat.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from redis.asyncio import Redis

from benchmarks.bench import bench_latency
from conformance_tests.drivers import DRIVERS, DriverSpec, connect_driver
from conformance_tests.helpers import flushed
from conformance_tests.servers import node_resque_dir, redis_url
from taskcore import codec
from taskcore.backend import Backend
from taskcore.multiworker import MultiWorker
from taskcore.worker import Worker

REPO = Path(__file__).resolve().parent.parent
NODE_SCRIPT = Path(__file__).resolve().parent / "node" / "drain.js"
PGQUEUER_SCRIPT = Path(__file__).resolve().parent / "pgqueuer_drain.py"
PGQUEUER_PYTHON: str | None = None  # set by --pgqueuer-python
QUEUE = "bench"
JOB = codec.encode_job("noop", QUEUE, [{}])
Scenario = Callable[[int], Awaitable[float]]


def _spec(driver_id: str) -> DriverSpec:
    return next(d for d in DRIVERS if d.id == driver_id)


def _connect(driver_id: str, namespace: str) -> Backend:
    """An unopened backend of ``driver_id`` in ``namespace`` (open it with ``flushed``)."""
    spec = _spec(driver_id)
    return connect_driver(spec, namespace, spec.url())


async def _noop(*_: Any) -> None:
    return None


def _runner(backend: Backend, name: str, *, pool: bool, fixed: int = 0) -> Worker | MultiWorker:
    """One taskcore Worker, or a MultiWorker (default sizes, or ``fixed`` workers), working
    the no-op job on the benchmark queue."""
    jobs = {"noop": _noop}
    if not pool:
        return Worker(backend, jobs, queues=[QUEUE], name=name)
    if fixed:
        return MultiWorker(
            backend, jobs, queues=[QUEUE], name=name, min_workers=fixed, max_workers=fixed
        )
    return MultiWorker(backend, jobs, queues=[QUEUE], name=name)


class Drained:
    """Counts successes (any emitter's) and sets ``done`` at ``jobs``."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.count = 0
        self.done = asyncio.Event()
        self.finished_at = 0.0
        self._waiting: tuple[int, asyncio.Event] | None = None

    async def reach(self, count: int) -> None:
        """Return once ``count`` successes were seen."""
        if self.count >= count:
            return
        self._waiting = (count, asyncio.Event())
        await self._waiting[1].wait()

    def __call__(self, *_: Any) -> None:
        self.count += 1
        if self._waiting is not None and self.count >= self._waiting[0]:
            self._waiting[1].set()
        if self.count == self.jobs:
            self.finished_at = time.time()
            self.done.set()


# ---------------------------------------------------------------------------- Redis staging


async def _stage(admin: Redis, namespace: str, jobs: int) -> None:
    """``jobs`` payloads in ``<ns>:queue:staging``, ready to be renamed into the queue."""
    staging = f"{namespace}:queue:staging"
    await admin.delete(staging)
    for start in range(0, jobs, 5000):
        await admin.rpush(staging, *([JOB] * min(5000, jobs - start)))
    await admin.sadd(f"{namespace}:queues", QUEUE)


async def _release(admin: Redis, namespace: str) -> float:
    """Move the staged jobs into the queue at once and wake taskcore workers; the start time."""
    started = time.time()
    async with admin.pipeline(transaction=True) as pipe:
        pipe.rename(f"{namespace}:queue:staging", f"{namespace}:queue:{QUEUE}")
        pipe.publish(f"{namespace}:taskcore:pushed", QUEUE)
        await pipe.execute()
    return started


async def _flush(admin: Redis, namespace: str) -> None:
    keys = [k async for k in admin.scan_iter(match=f"{namespace}:*", count=1000)]
    for i in range(0, len(keys), 1000):
        await admin.unlink(*keys[i : i + 1000])


async def taskcore_redis(jobs: int, *, pool: bool) -> float:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    admin = Redis.from_url(redis_url(), decode_responses=True)
    drained = Drained(jobs)
    async with flushed(_connect("redis", namespace)) as backend:
        runner = _runner(backend, f"bench-{namespace}", pool=pool)
        runner.on("success", drained)
        try:
            await _stage(admin, namespace, jobs)
            await runner.start()
            await asyncio.sleep(0.2)  # registered and idle: we time the drain, not the start
            started = await _release(admin, namespace)
            await asyncio.wait_for(drained.done.wait(), 600)
            return jobs / (drained.finished_at - started)
        finally:
            await runner.end()
            await admin.aclose()


async def taskcore_processes(jobs: int) -> float:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    admin = Redis.from_url(redis_url(), decode_responses=True)
    processes = os.cpu_count() or 1
    await _stage(admin, namespace, jobs)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "taskcore",
        "worker",
        "benchmarks.noop_app:tasks",
        "--url",
        redis_url(),
        "--namespace",
        namespace,
        "--processes",
        str(processes),
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        # other processes: their registration and counters are read, there is no event
        while await admin.scard(f"{namespace}:workers") < processes:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        started = await _release(admin, namespace)
        processed = f"{namespace}:stat:processed"
        while int(await admin.get(processed) or 0) < jobs:  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        elapsed = time.time() - started
        failed = int(await admin.get(f"{namespace}:stat:failed") or 0)
        if failed:
            raise RuntimeError(f"{failed} benchmark jobs failed in the worker processes")
        return jobs / elapsed
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
        await _flush(admin, namespace)
        await admin.aclose()


async def node_resque(jobs: int, *, mode: str) -> float:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    admin = Redis.from_url(redis_url(), decode_responses=True)
    await _stage(admin, namespace, jobs)
    env = {
        **os.environ,
        "NODE_PATH": str(Path(node_resque_dir()) / "node_modules"),
        "REDIS_URL": redis_url(),
        "RESQUE_NAMESPACE": namespace,
    }
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_SCRIPT),
        "--jobs",
        str(jobs),
        "--mode",
        mode,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if line.strip() != b"ready":
            raise RuntimeError(f"node-resque did not start: {line!r}")
        await asyncio.sleep(0.2)
        started = await _release(admin, namespace)
        line = await asyncio.wait_for(proc.stdout.readline(), 600)
        if not line.startswith(b"done "):
            raise RuntimeError(f"node-resque did not finish: {line!r}")
        return jobs / (float(line.split()[1]) - started)
    finally:
        if proc.returncode is None:
            with_timeout = asyncio.wait_for(proc.wait(), 10)
            try:
                await with_timeout
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await _flush(admin, namespace)
        await admin.aclose()


# ---------------------------------------------------------------------------- memory, PostgreSQL


async def taskcore_local(jobs: int, *, driver: str, pool: bool, fixed: int = 0) -> float:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    drained = Drained(jobs)
    async with flushed(_connect(driver, namespace)) as backend:
        for start in range(0, jobs, 1000):
            await backend.push_many([(QUEUE, JOB)] * min(1000, jobs - start))
        runner = _runner(backend, f"b-{namespace}", pool=pool, fixed=fixed)
        runner.on("success", drained)
        started = time.time()
        await runner.start()
        await asyncio.wait_for(drained.done.wait(), 600)
        rate = jobs / (drained.finished_at - started)
        await runner.end()
        return rate


async def pgqueuer(jobs: int, *, concurrency: int = 10) -> float:
    """pgqueuer 1.6's drain rate in its own process (``benchmarks/pgqueuer_drain.py``)."""
    if PGQUEUER_PYTHON is None:
        raise RuntimeError("give --pgqueuer-python: a Python with pgqueuer 1.6 installed")
    proc = await asyncio.create_subprocess_exec(
        PGQUEUER_PYTHON,
        str(PGQUEUER_SCRIPT),
        _spec("postgres").url(),
        str(jobs),
        str(concurrency),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 600)
    line = out.strip().splitlines()[-1] if out.strip() else b""
    if proc.returncode != 0 or not line.startswith(b"done "):
        raise RuntimeError(f"pgqueuer's drain failed (exit {proc.returncode}): {line!r}")
    return float(line.split()[1])


async def idle_latency(driver: str) -> float:
    async with flushed(_connect(driver, f"bench-{uuid.uuid4().hex[:8]}")) as backend:
        p50, _ = await bench_latency(backend, 50)
        return p50


async def redis_round_trip_us(_: int, *, calls: int = 2000) -> float:
    """The machine's floor for one Redis worker's step: mean us of a PING on one
    redis.asyncio connection (the client taskcore's Redis driver uses)."""
    client = Redis.from_url(redis_url(), single_connection_client=True)
    try:
        await client.ping()
        started = time.perf_counter()
        for _ in range(calls):
            await client.ping()
        return (time.perf_counter() - started) / calls * 1e6
    finally:
        await client.aclose()


async def postgres_commit_ms(_: int, *, commits: int = 200) -> float:
    """The machine's floor for a PostgreSQL job cycle: median ms of a durable one-row INSERT
    (its own transaction, so one WAL flush) on one asyncpg connection."""
    conn = await asyncpg.connect(_spec("postgres").url())
    table = f"bench_commit_{uuid.uuid4().hex[:8]}"
    try:
        await conn.execute(f"CREATE TABLE {table} (x int)")
        times: list[float] = []
        for n in range(commits):
            started = time.perf_counter()
            await conn.execute(f"INSERT INTO {table} VALUES ($1)", n)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.close()


# ---------------------------------------------------------------------------- the run

PAIRS: list[tuple[str, str | None]] = [
    ("tc redis 1 worker", "node Worker"),
    ("tc redis pool", "node MultiWorker"),
    ("tc redis processes", "node MultiWorker"),
    ("tc postgres pool", "pgqueuer C=10"),
    ("tc postgres pool", "tc postgres 1 worker"),
    ("tc memory pool", "tc memory 1 worker"),
]


def scenarios() -> dict[str, Scenario]:
    return {
        "tc redis 1 worker": lambda n: taskcore_redis(n, pool=False),
        "node Worker": lambda n: node_resque(n, mode="worker"),
        "tc redis pool": lambda n: taskcore_redis(n, pool=True),
        "node MultiWorker": lambda n: node_resque(n, mode="multi"),
        "tc redis processes": taskcore_processes,
        "tc postgres 1 worker": lambda n: taskcore_local(n, driver="postgres", pool=False),
        "tc postgres pool": lambda n: taskcore_local(n, driver="postgres", pool=True),
        "tc postgres 10 fixed": lambda n: taskcore_local(n, driver="postgres", pool=True, fixed=10),
        "pgqueuer C=10": pgqueuer,
        "tc memory 1 worker": lambda n: taskcore_local(n, driver="memory", pool=False),
        "tc memory pool": lambda n: taskcore_local(n, driver="memory", pool=True),
        "idle p50 ms redis": lambda _: idle_latency("redis"),
        "idle p50 ms postgres": lambda _: idle_latency("postgres"),
        "redis round trip us": redis_round_trip_us,
        "postgres commit ms": postgres_commit_ms,
    }


def render(jobs: int, rounds: int, results: dict[str, list[float]]) -> str:
    med = {name: statistics.median(values) for name, values in results.items() if values}
    lines = [
        f"jobs={jobs} rounds={rounds} (medians; interleaved)",
        "| scenario | jobs/s (ms for latency) | rounds |",
        "|---|---|---|",
    ]
    for name, values in results.items():
        digits = 2 if " ms " in f" {name} " else 0  # latencies in ms, rates in jobs/s, us
        shown = ", ".join(f"{v:,.{digits}f}" for v in values)
        lines.append(f"| {name} | {med[name]:,.{max(digits, 1)}f} | {shown} |")
    lines += ["", "| ratio | value |", "|---|---|"]
    for mine, theirs in PAIRS:
        if theirs is not None and mine in med and theirs in med:
            lines.append(f"| {mine} / {theirs} | {med[mine] / med[theirs]:.2f}x |")
    if "tc redis 1 worker" in med:
        per_job = 1e6 / med["tc redis 1 worker"]
        lines.append(f"| tc redis 1 worker, us per job | {per_job:.0f} |")
        if "redis round trip us" in med:
            # The machine's speed cancels out: the per-job cost against its one round trip.
            beyond = per_job - med["redis round trip us"]
            lines.append(f"| tc redis 1 worker, us per job beyond one round trip | {beyond:.0f} |")
    for driver, floor in (("redis", "redis round trip us"), ("postgres", "postgres commit ms")):
        latency = f"idle p50 ms {driver}"
        if latency in med and floor in med:
            unit = 1000 if floor.endswith(" us") else 1
            lines.append(
                f"| {latency} / {floor.rsplit(' ', 1)[0]} | "
                f"{med[latency] * unit / med[floor]:.1f}x |"
            )
    return "\n".join(lines)


def rss_mib() -> float:
    """The current resident set size of this process, MiB (Linux /proc; max RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_SOAK_STALL = 120.0
"""Seconds without the awaited successes after which the soak stops and says where jobs are."""


async def _where_jobs_are(backend: Backend, worker: Worker, drained: Drained) -> str:
    """One line accounting for the soak's jobs: successes seen, queued, held, failed, counted."""
    stats = await backend.stats()
    held = await backend.current_job(worker.worker_id)
    return (
        f"{drained.count:,} successes seen; queue {await backend.queue_length(QUEUE):,}; "
        f"current job {'held' if held else 'none'}; failed "
        f"{await backend.failure_count():,}; processed counter {stats.get('processed', 0):,}; "
        f"worker {'running' if worker.running else 'stopped'}"
    )


async def soak(driver: str, total: int) -> list[tuple[int, float]]:
    """One worker over ``total`` jobs, fed in batches; (jobs done, RSS MiB) every 10%.

    Progress goes to stderr at every sample; when the awaited successes do not come within
    ``_SOAK_STALL`` seconds the soak raises, saying where every job is (a stalled drain is a
    finding, not something to wait for)."""
    namespace = f"soak-{uuid.uuid4().hex[:8]}"
    backend = _connect(driver, namespace)
    await backend.open()
    batch = 10_000
    drained = Drained(total)
    worker = Worker(backend, {"noop": _noop}, queues=[QUEUE], name=f"soak-{namespace}")
    worker.on("success", drained)
    samples: list[tuple[int, float]] = []
    began = time.time()
    await worker.start()
    try:
        for start in range(0, total, batch):
            for chunk in range(start, min(total, start + batch), 1000):
                await backend.push_many([(QUEUE, JOB)] * min(1000, total - chunk))
            target = min(total, start + batch) - 1000
            try:
                await asyncio.wait_for(drained.reach(target), _SOAK_STALL)
            except TimeoutError:
                where = await _where_jobs_are(backend, worker, drained)
                raise RuntimeError(
                    f"soak {driver}: no progress to {target:,} successes in {_SOAK_STALL:g} s: "
                    f"{where}"
                ) from None
            if (start + batch) % max(batch, total // 10) == 0:
                samples.append((drained.count, rss_mib()))
                print(
                    f"soak {driver}: {drained.count:,} jobs, {samples[-1][1]:.1f} MiB, "
                    f"{time.time() - began:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
        try:
            await asyncio.wait_for(drained.done.wait(), _SOAK_STALL)
        except TimeoutError:
            where = await _where_jobs_are(backend, worker, drained)
            raise RuntimeError(f"soak {driver}: the last jobs did not finish: {where}") from None
        samples.append((drained.count, rss_mib()))
    finally:
        await worker.end()
        await backend.flush()
        await backend.aclose()
    return samples


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=5000, help="jobs per drain (default 5000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--only", help="comma-separated scenario names (default: all)")
    parser.add_argument("--soak", type=int, metavar="N", help="also run the N-job RSS soak")
    parser.add_argument(
        "--soak-drivers", default="redis,postgres", help="drivers of the soak (redis,postgres)"
    )
    parser.add_argument(
        "--pgqueuer-python",
        metavar="PYTHON",
        help="a Python with pgqueuer 1.6 installed, for the pgqueuer scenario (default: none)",
    )
    args = parser.parse_args(argv)
    global PGQUEUER_PYTHON
    PGQUEUER_PYTHON = args.pgqueuer_python
    table = scenarios()
    if PGQUEUER_PYTHON is None:
        del table["pgqueuer C=10"]
    names = list(table) if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in table]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {', '.join(table)}")
    results: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.rounds):
        for name in names:
            value = await table[name](args.jobs)
            results[name].append(value)
            print(f"round {r + 1}: {name}: {value:,.1f}", file=sys.stderr, flush=True)
    print(render(args.jobs, args.rounds, results))
    if args.soak:
        for driver in args.soak_drivers.split(","):
            samples = await soak(driver, args.soak)
            first, last = samples[0][1], samples[-1][1]
            print(f"\nsoak {driver}: {args.soak:,} jobs, RSS MiB at jobs done:")
            print("  " + ", ".join(f"{n:,}: {mib:.1f}" for n, mib in samples))
            print(f"  growth from the first sample: {100 * (last - first) / first:+.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
