"""The PostgreSQL driver runs its workers' concurrent reserve calls together.

The batcher alone (a scripted statement runner, so the tests control when a statement ends),
then the driver on a real server: calls made while statements are in flight share one, and
every call still gets what it would alone (its own queues, its outcome recorded)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import asyncpg
import pytest

from conformance_tests import servers
from conformance_tests.helpers import flushed
from taskcore.backend import Outcome, Reservation, WorkerId
from taskcore.errors import BackendError, ConfigError
from taskcore_postgres import PostgresBackend
from taskcore_postgres.batch import MAX_BATCH, BatchKey, ReserveBatcher, ReserveCall

KEY: BatchKey = (("q",), ("q",))
OTHER: BatchKey = (("other",), ("other",))


class Script:
    """A statement runner that records each batch and ends it when told."""

    def __init__(self) -> None:
        self.batches: list[tuple[BatchKey, list[str]]] = []
        self.release = asyncio.Event()
        self.fail: Exception | None = None
        self.one_at_a_time = False
        self.ended = 0

    async def execute(
        self, key: BatchKey, calls: Sequence[ReserveCall]
    ) -> list[Reservation | None]:
        self.batches.append((key, [call.worker.name for call in calls]))
        await self.release.wait()
        if self.one_at_a_time:
            self.release.clear()
        self.ended += 1
        if self.fail is not None:
            raise self.fail
        return [Reservation(key[0][0], f"job for {call.worker.name}") for call in calls]


def _worker(n: int, queue: str = "q") -> WorkerId:
    return WorkerId(f"host:{n}", (queue,))


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def _blocked() -> tuple[Script, ReserveBatcher, asyncio.Future[Reservation | None]]:
    """A batcher of one statement slot, taken by host:0's call (running until released)."""
    script = Script()
    batcher = ReserveBatcher(script.execute, max_in_flight=1)
    blocker = asyncio.ensure_future(batcher.submit(KEY, _worker(0), 1.0, None))
    await _settle()
    return script, batcher, blocker


async def test_calls_made_while_statements_run_share_the_next_one() -> None:
    script, batcher, first = await _blocked()
    rest = [
        asyncio.ensure_future(batcher.submit(KEY, _worker(n), 1.0, Outcome.success()))
        for n in range(1, 6)
    ]
    await _settle()
    assert script.batches == [(KEY, ["host:0"])]  # the others wait for the slot

    script.release.set()
    results = await asyncio.gather(first, *rest)

    assert script.batches == [(KEY, ["host:0"]), (KEY, [f"host:{n}" for n in range(1, 6)])]
    assert [r.payload for r in results if r is not None] == [f"job for host:{n}" for n in range(6)]
    assert (batcher.statements, batcher.calls) == (2, 6)


async def test_an_idle_call_runs_at_once_by_itself() -> None:
    script = Script()
    script.release.set()
    batcher = ReserveBatcher(script.execute, max_in_flight=2)

    result = await batcher.submit(KEY, _worker(0), 1.0, None)

    assert result == Reservation("q", "job for host:0")
    assert script.batches == [(KEY, ["host:0"])]


async def test_calls_for_other_queues_never_share_a_statement() -> None:
    script, batcher, blocker = await _blocked()
    waiting = [
        asyncio.ensure_future(batcher.submit(KEY, _worker(1), 1.0, None)),
        asyncio.ensure_future(batcher.submit(OTHER, _worker(2, "other"), 1.0, None)),
        asyncio.ensure_future(batcher.submit(KEY, _worker(3), 1.0, None)),
    ]
    await _settle()
    script.release.set()
    results = await asyncio.gather(blocker, *waiting)

    assert script.batches == [
        (KEY, ["host:0"]),
        (KEY, ["host:1", "host:3"]),
        (OTHER, ["host:2"]),
    ]
    assert results[2] == Reservation("other", "job for host:2")


async def test_a_failed_statement_fails_each_of_its_calls_and_later_calls_still_run() -> None:
    script, batcher, blocker = await _blocked()
    waiting = [asyncio.ensure_future(batcher.submit(KEY, _worker(n), 1.0, None)) for n in (1, 2)]
    await _settle()
    script.fail = BackendError("connection lost")
    script.release.set()

    results = await asyncio.gather(blocker, *waiting, return_exceptions=True)

    assert all(isinstance(r, BackendError) for r in results)
    script.fail = None
    assert await batcher.submit(KEY, _worker(3), 1.0, None) == Reservation("q", "job for host:3")


async def test_a_cancelled_waiting_call_is_left_out_of_the_statement() -> None:
    script, batcher, blocker = await _blocked()
    gone = asyncio.ensure_future(batcher.submit(KEY, _worker(1), 1.0, None))
    kept = asyncio.ensure_future(batcher.submit(KEY, _worker(2), 1.0, None))
    await _settle()
    gone.cancel()
    script.release.set()

    await asyncio.gather(blocker, kept)

    assert script.batches == [(KEY, ["host:0"]), (KEY, ["host:2"])]
    assert gone.cancelled()


async def test_a_call_cancelled_while_its_statement_runs_waits_for_it_to_end() -> None:
    script, batcher, blocker = await _blocked()
    script.one_at_a_time = True
    caller = asyncio.ensure_future(batcher.submit(KEY, _worker(1), 1.0, None))
    await _settle()
    script.release.set()  # the first statement ends; the second (host:1's) starts
    await blocker
    await _settle()
    assert script.batches[-1] == (KEY, ["host:1"]) and script.ended == 1

    caller.cancel()
    await _settle()
    assert not caller.done()  # still waiting for its statement

    script.release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert script.ended == 2


async def test_a_statement_holds_at_most_max_batch_calls() -> None:
    script, batcher, blocker = await _blocked()
    waiting = [
        asyncio.ensure_future(batcher.submit(KEY, _worker(n), 1.0, None))
        for n in range(1, MAX_BATCH + 6)
    ]
    await _settle()
    script.release.set()
    await asyncio.gather(blocker, *waiting)

    assert [len(names) for _, names in script.batches] == [1, MAX_BATCH, 5]


def test_reserve_statements_must_be_a_positive_whole_number() -> None:
    with pytest.raises(ConfigError, match="reserve_statements must be a whole number"):
        PostgresBackend("postgresql://127.0.0.1/x", reserve_statements=0)


# ---------------------------------------------------------------- on a real server


@pytest.fixture
async def backend() -> AsyncIterator[PostgresBackend]:
    async with flushed(
        PostgresBackend(
            servers.postgres_dsn(), namespace=f"batch-{uuid.uuid4().hex[:8]}", reserve_statements=1
        )
    ) as b:
        yield b


@pytest.mark.postgres
async def test_concurrent_cycles_share_statements_and_each_gets_its_own_job(
    backend: PostgresBackend,
) -> None:
    jobs = [f'{{"class":"x","queue":"q","args":[{n}]}}' for n in range(40)]
    await backend.push_many([("q", p) for p in jobs])
    workers = [_worker(n) for n in range(10)]
    got = await asyncio.gather(*(backend.reserve(["q"], w, 1_000.0) for w in workers))
    outcomes = [Outcome.success() if n % 2 else Outcome.failure(f"[{n}]") for n in range(10)]
    again = await asyncio.gather(
        *(
            backend.complete_and_reserve(w, o, ["q"], 1_000.0)
            for w, o in zip(workers, outcomes, strict=True)
        )
    )

    batcher = backend._batcher
    assert batcher.statements < batcher.calls == 20
    assert sorted(r.payload for r in got + again if r is not None) == sorted(jobs[:20])
    for w, r in zip(workers, again, strict=True):
        current = await backend.current_job(w)
        assert r is not None and current is not None and current.payload == r.payload
    stats = await backend.stats()
    assert (stats["processed"], stats["failed"]) == (5, 5)
    assert sorted(await backend.failures(0, -1)) == sorted(f"[{n}]" for n in range(0, 10, 2))


@pytest.mark.postgres
async def test_workers_of_other_queues_in_one_burst_get_only_their_queues(
    backend: PostgresBackend,
) -> None:
    await backend.push_many([("a", f"a{n}") for n in range(3)] + [("b", f"b{n}") for n in range(3)])
    workers = [_worker(n, "a") for n in range(4)] + [_worker(n, "b") for n in range(4, 8)]

    got = await asyncio.gather(*(backend.reserve(list(w.queues), w, 1_000.0) for w in workers))

    for w, r in zip(workers, got, strict=True):
        assert r is None or (r.queue == w.queues[0] and r.payload.startswith(w.queues[0]))
    assert sorted(r.payload for r in got if r is not None) == [
        "a0",
        "a1",
        "a2",
        "b0",
        "b1",
        "b2",
    ]


# ---------------------------------------------------------------- a clean racing a reserve


async def _until_waiting_on_a_lock(conn: asyncpg.Connection) -> None:
    """Until a session of this database waits on a lock (no event crosses processes)."""
    for _ in range(500):
        if await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the reserve never waited on the clean's lock")


async def _one(backend: PostgresBackend, w: WorkerId) -> Reservation | None:
    return await backend.reserve(["q"], w, 1_000.0)


async def _in_a_batch(backend: PostgresBackend, w: WorkerId) -> Reservation | None:
    other = _worker(99)
    calls = [ReserveCall(w, 1_000.0, None), ReserveCall(other, 1_000.0, None)]
    results = await backend._execute_batch((("q",), ("q",)), calls)
    return results[0]


@pytest.mark.postgres
@pytest.mark.parametrize("reserve", [_one, _in_a_batch], ids=["alone", "batched"])
async def test_a_reserve_that_waits_out_a_clean_of_its_worker_leaves_it_recoverable(
    backend: PostgresBackend, reserve: Callable[..., Awaitable[Reservation | None]]
) -> None:
    """A scheduler cleans a worker whose reserve started before the clean committed (say, a
    statement the worker's process sent just before it died): the reserve waits for the
    clean's row lock, then inserts the worker's row afresh with the job. The worker must get
    a ping with it, or no stuck-worker pass would ever see the job."""
    w = WorkerId("victim:1", ("q",))
    await backend.register_worker(w, 1_000.0)
    await backend.push("q", "job-1")
    conn = await asyncpg.connect(servers.postgres_dsn())
    try:
        clean = conn.transaction()
        await clean.start()
        locked = await conn.fetch(backend._sql.CLEAN_WORKER_LOCK, backend.namespace, w.name)
        reserving = asyncio.ensure_future(reserve(backend, w))
        await _until_waiting_on_a_lock(conn)
        await conn.execute(
            backend._sql.CLEAN_WORKER_APPLY, backend.namespace, w.name, [], [r[0] for r in locked]
        )
        await clean.commit()
        got = await asyncio.wait_for(reserving, 10)
    finally:
        await conn.close()

    assert got == Reservation("q", "job-1")
    current = await backend.current_job(w)
    assert current is not None and current.payload == "job-1"
    assert w in await backend.list_workers()
    assert w.name in {p.name for p in await backend.registered_worker_pings()}
