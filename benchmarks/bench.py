"""Throughput, latency and memory of every driver, measured in one run so ratios compare.

Run: ``python -m benchmarks.bench [--drivers memory,redis,postgres] [--jobs 2000]``

It uses the suite's driver table (``conformance_tests.drivers.DRIVERS``), so the servers are
found or started exactly as the tests do. Figures for one run on one machine are printed as a
table, with each driver's figure as a ratio to the first driver's, because absolute numbers on a
shared machine are noise; ratios measured side by side are not.

Measured per driver:

* ``enqueue/s``: ``Queue.enqueue`` of ``--jobs`` jobs, one after another (one connection).
* ``reserve+complete/s``: the storage hot path alone, a loop of ``complete_and_reserve``.
* ``worker drain/s``: one :class:`~taskcore.worker.Worker` working ``--jobs`` no-op jobs.
* ``pool drain/s``: four workers on separate connections (shared-storage drivers only).
* ``latency p50/p95 ms``: enqueue -> job start with an idle worker whose poll timeout is 30 s,
  so only the driver's wake-up path can explain a fast start.
* ``KiB/job``: memory the process holds per queued job (memory driver: the whole store lives
  in-process; for server drivers it is client-side only).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from conformance_tests.drivers import DRIVERS, DriverSpec, connect_driver
from taskcore import codec
from taskcore.backend import Backend, Outcome, WorkerId
from taskcore.queue import Queue
from taskcore.worker import Worker


@dataclass
class Result:
    driver: str
    figures: dict[str, float] = field(default_factory=dict)


async def _open(spec: DriverSpec, url: str, namespace: str) -> Backend:
    backend = connect_driver(spec, namespace, url)
    await backend.open()
    return backend


async def _timed(n: int, fn: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await fn()
    return n / (time.perf_counter() - start)


async def bench_enqueue(backend: Backend, jobs: int) -> float:
    queue = Queue(backend)

    async def run() -> None:
        for i in range(jobs):
            await queue.enqueue("bench", "noop", [i])

    return await _timed(jobs, run)


async def bench_hot_path(backend: Backend, jobs: int) -> float:
    queue = Queue(backend)
    for i in range(jobs):
        await queue.enqueue("hot", "noop", [i])
    worker = WorkerId("bench-hot", ("hot",))
    await backend.register_worker(worker, time.time())

    async def run() -> None:
        got = await backend.reserve(["hot"], worker, time.time())
        while got is not None:
            got = await backend.complete_and_reserve(
                worker, Outcome.success(), ["hot"], time.time()
            )

    rate = await _timed(jobs, run)
    await backend.clean_worker(worker.name, lambda job: "{}")
    return rate


async def _drain(backends: list[Backend], jobs: int, queue_name: str) -> float:
    done = asyncio.Event()
    count = 0

    async def noop(i: int) -> None:
        nonlocal count
        count += 1
        if count == jobs:
            done.set()

    queue = Queue(backends[0])
    for i in range(jobs):
        await queue.enqueue(queue_name, "noop", [i])
    workers = [
        Worker(b, {"noop": noop}, queues=[queue_name], name=f"bench-{n}-{uuid.uuid4().hex[:6]}")
        for n, b in enumerate(backends)
    ]
    start = time.perf_counter()
    for w in workers:
        await w.start()
    await done.wait()
    rate = jobs / (time.perf_counter() - start)
    await asyncio.gather(*(w.end() for w in workers))
    return rate


async def bench_latency(backend: Backend, samples: int) -> tuple[float, float]:
    started = asyncio.Event()

    async def job(_: int) -> None:
        started.set()

    queue = Queue(backend)
    worker = Worker(backend, {"ping": job}, queues=["latency"], timeout=30.0, name="bench-lat")
    await worker.start()
    await asyncio.sleep(0.05)  # let the worker go idle: we measure the wake-up, not the start
    delays: list[float] = []
    for i in range(samples):
        started.clear()
        t0 = time.perf_counter()
        await queue.enqueue("latency", "ping", [i])
        await asyncio.wait_for(started.wait(), 30)
        delays.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.002)  # idle again before the next sample
    await worker.end()
    delays.sort()
    return statistics.median(delays), delays[int(len(delays) * 0.95) - 1]


async def bench_memory(backend: Backend, jobs: int) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(jobs):
        await backend.push("mem", codec.encode_job("noop", "mem", [i, "x" * 32]))
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / jobs / 1024


async def bench_driver(spec: DriverSpec, jobs: int, samples: int) -> Result:
    url = spec.url()
    namespace = f"taskcore-bench-{uuid.uuid4().hex[:8]}"
    backend = await _open(spec, url, namespace)
    result = Result(spec.id)
    try:
        result.figures["enqueue/s"] = await bench_enqueue(backend, jobs)
        await backend.flush()
        result.figures["reserve+complete/s"] = await bench_hot_path(backend, jobs)
        result.figures["worker drain/s"] = await _drain([backend], jobs, "drain1")
        if backend.capabilities.shared_across_processes:
            extra = [await _open(spec, url, namespace) for _ in range(3)]
            try:
                result.figures["pool drain/s (4)"] = await _drain([backend, *extra], jobs, "drain4")
            finally:
                for b in extra:
                    await b.aclose()
        p50, p95 = await bench_latency(backend, samples)
        result.figures["latency p50 ms"] = p50
        result.figures["latency p95 ms"] = p95
        result.figures["KiB/job held"] = await bench_memory(backend, min(jobs, 2000))
    finally:
        await backend.flush()
        await backend.aclose()
    return result


def render(results: list[Result]) -> str:
    """A markdown table: each figure, and its ratio to the first driver's."""
    names = list(dict.fromkeys(k for r in results for k in r.figures))
    base = results[0]
    head = "| figure | " + " | ".join(r.driver for r in results) + " |"
    lines = [head, "|" + "---|" * (len(results) + 1)]
    for name in names:
        cells = []
        for r in results:
            value = r.figures.get(name)
            if value is None:
                cells.append("n/a")
                continue
            ref = base.figures.get(name)
            ratio = f" ({value / ref:.2f}x)" if ref and r is not base else ""
            cells.append(f"{value:,.1f}{ratio}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--drivers", default=",".join(d.id for d in DRIVERS))
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args(argv)
    wanted = args.drivers.split(",")
    specs = [d for d in DRIVERS if d.id in wanted]
    results = [await bench_driver(spec, args.jobs, args.samples) for spec in specs]
    print(f"jobs={args.jobs} latency samples={args.samples}; ratios are to {results[0].driver}")
    print(render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
