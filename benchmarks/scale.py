"""Costs that must stay flat as the data grows: one curve per dimension, per driver.

Run: ``python -m benchmarks.scale [--drivers redis,postgres] [--full] [--rounds 3]``

Each curve prints the median time of one call (ms) at each size, and the ratio of the largest
size to the smallest: ~1 is flat, ~1000 over a 1000x range is linear. Default sizes run in a few
minutes on a 2-core machine; ``--full`` uses the sizes of issue 10 (500k delayed jobs, 100k
failures, 1,000 dead workers), which take much longer to load.

Curves:

* ``reserve ms vs queues``: one empty reserve by a worker of n explicit queues (n = 1..5,000;
  the worker registers first, so a 5,000-queue worker must be able to start).
* ``wildcard list+reserve vs known queues``: what a wildcard worker pays to find a job: list
  its queues (``queues_to_work``) and reserve over them, with one job waiting in the last of n
  known queues (n = 1..5,000; the others empty).
* ``idle poll ms vs delayed``: a leader's scheduler poll (nothing due, ten live workers) with
  n delayed jobs stored in the future (after the first poll, which sweeps every heartbeat).
* ``stuck pass ms/worker``: one stuck-worker pass cleaning n dead workers, per worker.
* ``retry poll ms vs failed``: a scheduler poll with ``retry_stuck_jobs`` cleaning one dead
  worker, with n unrelated records in the failed list.
* ``retry_stuck_jobs ms/1k vs failed``: one ``Queue.retry_stuck_jobs()`` walk over n failure
  records (one force-clean record among them), per 1,000 records walked: ~1 is a linear walk,
  growing with n is a quadratic one (positional paging, OFFSET).
* ``dashboard page ms vs delayed``: the first 50 timestamps and their jobs
  (``Queue.delayed_page``), with n delayed jobs; ``all_delayed ms`` reads everything.

It uses the suite's driver table, so servers are found or started as the tests do, and public
APIs only: run it from an older checkout (``PYTHONPATH``) to get the "before" figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from conformance_tests.drivers import DRIVERS, DriverSpec, connect_driver
from conformance_tests.helpers import flushed
from taskcore import codec
from taskcore.backend import Backend, WorkerId
from taskcore.errors import TaskcoreError
from taskcore.queue import Queue
from taskcore.queue_order import queues_to_work
from taskcore.scheduler import Scheduler

PAGE = 50
CHUNK = 20  # concurrent storage calls while loading data (under client pool caps)
LONG_AGO = 7200.0  # seconds before now at which the dead workers registered and reserved

T = TypeVar("T")


async def _timed(call: Awaitable[T]) -> tuple[T, float]:
    """``call``'s result and the ms it took."""
    start = time.perf_counter()
    result = await call
    return result, (time.perf_counter() - start) * 1000


async def _median_ms(fn: Callable[[], Awaitable[Any]], rounds: int) -> float:
    return statistics.median([(await _timed(fn()))[1] for _ in range(rounds)])


async def _chunked(calls: Sequence[Callable[[], Awaitable[Any]]]) -> None:
    for i in range(0, len(calls), CHUNK):
        await asyncio.gather(*(call() for call in calls[i : i + CHUNK]))


@contextlib.asynccontextmanager
async def _fresh(spec: DriverSpec, url: str) -> AsyncIterator[Backend]:
    """An open backend on a namespace of its own, flushed and closed on exit."""
    async with flushed(connect_driver(spec, f"scale-{uuid.uuid4().hex[:8]}", url)) as backend:
        yield backend


async def _schedule(backend: Backend, count: int, start: int) -> None:
    def one(n: int) -> Callable[[], Awaitable[Any]]:
        payload = codec.encode_job("noop", "later", [n])
        return lambda: backend.schedule(start + n // 3, "later", payload)

    await _chunked([one(n) for n in range(count)])


async def _fill_failed(backend: Backend, count: int) -> None:
    """``count`` unrelated records in the failed list (none a force-clean record)."""
    push = backend.push_failure
    await _chunked([partial(push, f'{{"n":{i}}}') for i in range(count)])


async def _dead_workers_holding_a_job(backend: Backend, rounds: int) -> AsyncIterator[WorkerId]:
    """One worker per round, ``dead:<r>``, registered ``LONG_AGO`` and holding job ``noop(r)``
    of queue q; queue q is deleted after each round."""
    for r in range(rounds):
        dead = WorkerId(f"dead:{r}", ("q",))
        await backend.register_worker(dead, time.time() - LONG_AGO)
        await backend.push("q", codec.encode_job("noop", "q", [r]))
        await backend.reserve(["q"], dead, time.time() - LONG_AGO)
        yield dead
        await backend.delete_queue("q")


async def reserve_vs_queues(backend: Backend, sizes: list[int], rounds: int) -> list[float]:
    out = []
    for n in sizes:
        queues = [f"q{i:05d}" for i in range(n)]
        worker = WorkerId(f"scale:{n}", tuple(queues))
        try:
            await backend.register_worker(worker, time.time())
            out.append(await _median_ms(partial(_reserve, backend, queues, worker), rounds))
        except TaskcoreError as exc:  # e.g. a worker the storage cannot register
            print(f"  ({n} queues: {type(exc).__name__}: {str(exc)[:100]})", flush=True)
            out.append(float("nan"))
    return out


async def wildcard_vs_queues(backend: Backend, sizes: list[int], rounds: int) -> list[float]:
    out = []
    worker = WorkerId("scale:wild", ("*",))
    payload = codec.encode_job("noop", "w", [])
    known = 0
    for n in sizes:
        names = [f"w{i:05d}" for i in range(n)]
        if n > known:  # make names[known:n] known, then empty again
            await backend.push_many([(name, payload) for name in names[known:]])
            await _chunked([partial(_reserve, backend, [name], worker) for name in names[known:]])
            known = n
        times = []
        for _ in range(rounds):
            await backend.push(names[-1], payload)
            found, ms = await _timed(_find(backend, worker))
            times.append(ms)
            assert found is not None, "the waiting job was not found"
        out.append(statistics.median(times))
    return out


async def _reserve(backend: Backend, queues: list[str], worker: WorkerId) -> Any:
    return await backend.reserve(queues, worker, time.time())


async def _find(backend: Backend, worker: WorkerId) -> Any:
    """A wildcard worker's step: list the queues to work, then reserve over them."""
    return await _reserve(backend, await queues_to_work(backend, None), worker)


def _leader(backend: Backend, **options: Any) -> Scheduler:
    return Scheduler(backend, name=f"scale-{uuid.uuid4().hex[:6]}", **options)


async def idle_poll_vs_delayed(
    spec: DriverSpec, url: str, sizes: list[int], rounds: int
) -> list[float]:
    out = []
    for n in sizes:
        async with _fresh(spec, url) as backend:
            await _schedule(backend, n, int(time.time()) + 86_400)
            for w in range(10):
                await backend.register_worker(WorkerId(f"live:{w}", ("later",)), time.time())
            scheduler = _leader(backend)
            await scheduler.poll()  # leadership, and the first sweep of every heartbeat
            out.append(await _median_ms(scheduler.poll, rounds))
    return out


async def stuck_pass_per_worker(
    spec: DriverSpec, url: str, sizes: list[int], rounds: int
) -> list[float]:
    out = []
    for n in sizes:
        samples = []
        for _ in range(rounds):
            async with _fresh(spec, url) as backend:
                long_ago = time.time() - LONG_AGO
                register = backend.register_worker
                await _chunked(
                    [partial(register, WorkerId(f"dead:{w}", ("q",)), long_ago) for w in range(n)]
                )
                scheduler = _leader(backend)
                await scheduler.try_for_leader()
                cleaned, ms = await _timed(scheduler.clean_stuck_workers())
                samples.append(ms / max(len(cleaned), 1))
                assert len(cleaned) == n, (len(cleaned), n)
        out.append(statistics.median(samples))
    return out


async def retry_poll_vs_failed(
    spec: DriverSpec, url: str, sizes: list[int], rounds: int
) -> list[float]:
    out = []
    for n in sizes:
        async with _fresh(spec, url) as backend:
            await _fill_failed(backend, n)
            scheduler = _leader(backend, retry_stuck_jobs=True)
            await scheduler.poll()
            samples = []
            async for dead in _dead_workers_holding_a_job(backend, rounds):
                await backend.ping_worker(dead, time.time() - LONG_AGO)
                _, ms = await _timed(scheduler.poll())
                samples.append(ms)
                assert await backend.queue_length("q") == 1
            out.append(statistics.median(samples))
    return out


async def retry_walk_vs_failed(
    spec: DriverSpec, url: str, sizes: list[int], rounds: int
) -> list[float]:
    out = []
    for n in sizes:
        async with _fresh(spec, url) as backend:
            await _fill_failed(backend, n)
            queue = Queue(backend)
            samples = []
            async for dead in _dead_workers_holding_a_job(backend, rounds):
                await queue.force_clean_worker(dead.name)
                retried, ms = await _timed(queue.retry_stuck_jobs())
                samples.append(ms * 1000 / (n + 1))
                assert retried == 1
            out.append(statistics.median(samples))
    return out


async def _dashboard_page(queue: Queue) -> Any:
    if hasattr(queue, "delayed_page"):
        return await queue.delayed_page(limit=PAGE)
    # before paging existed: every timestamp, then one read per shown timestamp
    return [await queue.delayed_at(ts) for ts in (await queue.timestamps())[:PAGE]]


async def page_vs_delayed(
    spec: DriverSpec, url: str, sizes: list[int], rounds: int
) -> tuple[list[float], list[float]]:
    pages, everything = [], []
    for n in sizes:
        async with _fresh(spec, url) as backend:
            await _schedule(backend, n, int(time.time()) + 86_400)
            queue = Queue(backend)
            pages.append(await _median_ms(partial(_dashboard_page, queue), rounds))
            everything.append(await _median_ms(queue.all_delayed, 1))
    return pages, everything


def _row(name: str, sizes: list[int], values: list[float]) -> None:
    cells = "  ".join(f"{s:>7}: {v:9.2f}" for s, v in zip(sizes, values, strict=True))
    ratio = values[-1] / values[0] if values[0] > 0 else float("nan")
    print(f"  {name:<28} {cells}   last/first {ratio:7.1f}x", flush=True)


async def run(drivers: list[str], full: bool, rounds: int) -> None:
    queues = [1, 10, 100, 1000, 5000]
    delayed = [10, 500_000] if full else [10, 50_000]
    dead = [1, 10, 100, 1000] if full else [1, 10, 100, 300]
    failed = [10, 100_000] if full else [10, 10_000]
    walked = [1000, 100_000] if full else [1000, 10_000]
    for spec in (s for s in DRIVERS if s.id in drivers):
        url = spec.url()
        print(f"{spec.id} (medians of {rounds}, ms)", flush=True)
        async with _fresh(spec, url) as backend:
            _row("reserve vs queues", queues, await reserve_vs_queues(backend, queues, rounds))
        async with _fresh(spec, url) as backend:
            _row("wildcard vs known queues", queues, await wildcard_vs_queues(backend, queues, 5))
        _row(
            "idle poll vs delayed", delayed, await idle_poll_vs_delayed(spec, url, delayed, rounds)
        )
        _row(
            "stuck pass /worker vs dead", dead, await stuck_pass_per_worker(spec, url, dead, rounds)
        )
        _row("retry poll vs failed", failed, await retry_poll_vs_failed(spec, url, failed, rounds))
        _row(
            "retry_stuck_jobs ms/1k vs failed",
            walked,
            await retry_walk_vs_failed(spec, url, walked, rounds),
        )
        pages, everything = await page_vs_delayed(spec, url, delayed, rounds)
        _row(f"dashboard page ({PAGE}) vs delayed", delayed, pages)
        _row("all_delayed vs delayed", delayed, everything)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drivers", default="redis,postgres", help="comma-separated")
    parser.add_argument("--full", action="store_true", help="issue 10's sizes (slow to load)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    asyncio.run(run(args.drivers.split(","), args.full, args.rounds))


if __name__ == "__main__":
    main()
