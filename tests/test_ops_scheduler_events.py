"""The scheduler's ``leader_lost`` and ``poll_done`` events, and the metrics fed by them.

The ops log lines and metrics follow these events instead of guessing from the order of
others, so what they promise is pinned here on the memory driver, with a FakeClock.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from taskcore.backend import Backend, WorkerId
from taskcore.clock import FakeClock
from taskcore.codec import encode_job
from taskcore.ops.metrics import exposition
from taskcore.ops.stats import ProcessStats, watch_scheduler
from taskcore.queue import LEADER_LOCK, Queue
from taskcore.registry import connect
from taskcore.scheduler import Scheduler

NOW = 1_000_000.0


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    store = connect(f"memory://ops-sched-events-{uuid.uuid4().hex[:8]}", namespace="ops")
    async with store:
        yield store
        await store.flush()


def recorder(scheduler: Scheduler) -> list[tuple[Any, ...]]:
    """Every event the scheduler emits, in order, as ``(name, *args)``."""
    seen: list[tuple[Any, ...]] = []
    scheduler.on_any(lambda event, *args: seen.append((event, *args)))
    return seen


async def test_poll_done_ends_each_leader_poll_with_its_exact_counts(backend: Backend) -> None:
    clock = FakeClock(NOW)
    scheduler = Scheduler(backend, name="s1", clock=clock, stuck_worker_timeout=60)
    events = recorder(scheduler)
    for n in range(3):
        await backend.schedule(int(NOW) - 10, "math", encode_job("add", "math", [n]))
    await backend.schedule(int(NOW) + 3600, "math", encode_job("add", "math", [9]))  # not due
    await backend.register_worker(WorkerId("dead:1", ("math",)), NOW - 600)

    assert await scheduler.poll()
    names = [e[0] for e in events]
    assert names == ["leader", "poll", *["transferred_job"] * 3, "clean_stuck_worker", "poll_done"]
    _, promoted, cleaned, duration = events[-1]
    assert (promoted, cleaned) == (3, 1)
    assert isinstance(duration, float) and duration >= 0

    events.clear()
    assert await scheduler.poll()  # nothing left to do: still one poll_done, with zeros
    assert [e[:3] for e in events] == [("poll",), ("poll_done", 0, 0)]

    # a scheduler that does not lead does no work and reports no poll
    other = Scheduler(backend, name="s2", clock=clock, stuck_worker_timeout=60)
    others = recorder(other)
    assert not await other.poll()
    assert others == []


async def test_leader_lost_once_when_a_poll_finds_the_lock_taken(backend: Backend) -> None:
    scheduler = Scheduler(backend, name="s1", clock=FakeClock(NOW))
    events = recorder(scheduler)
    assert await scheduler.poll()
    await backend.set_lock(LEADER_LOCK, "s2", 60)  # another scheduler holds it now
    assert not await scheduler.poll()
    assert not await scheduler.poll()
    assert [e[0] for e in events].count("leader_lost") == 1
    assert not scheduler.is_leader
    await backend.release_lock(LEADER_LOCK)
    assert await scheduler.poll()  # free again: it leads again, and says so
    assert [e[0] for e in events][-3:] == ["leader", "poll", "poll_done"]


async def test_leader_lost_when_the_renewal_finds_the_lock_gone_but_not_at_end(
    backend: Backend,
) -> None:
    clock = FakeClock(NOW)
    # renewal every 1 s; the poll interval is far longer, so only the renewal can notice
    scheduler = Scheduler(backend, name="s1", clock=clock, timeout=3600, leader_lock_timeout=3)
    lost = asyncio.Event()
    scheduler.on("leader_lost", lost.set)
    events = recorder(scheduler)
    await scheduler.start()
    try:

        async def both_parked() -> None:
            # the poll loop and the renewer wait on the clock (FakeClock has no event for that)
            while clock.sleepers < 2:  # noqa: ASYNC110
                await asyncio.sleep(0)

        await asyncio.wait_for(both_parked(), 10)
        assert scheduler.is_leader
        await backend.release_lock(LEADER_LOCK)
        clock.advance(1)
        await asyncio.wait_for(lost.wait(), 10)
        assert not scheduler.is_leader
    finally:
        await scheduler.end()
    assert [e[0] for e in events].count("leader_lost") == 1

    # a leader that ends releases the lock on purpose: that is not "lost"
    second = Scheduler(backend, name="s3", clock=FakeClock(NOW), timeout=3600)
    seen = recorder(second)
    leads = asyncio.Event()
    second.on("leader", leads.set)
    await second.start()
    await asyncio.wait_for(leads.wait(), 10)
    await second.end()
    assert "leader_lost" not in [e[0] for e in seen]


def samples(text: str) -> dict[str, float]:
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("taskcore_scheduler_") and "le" not in s.labels
    }


async def test_scheduler_metrics_count_promotions_cleanups_polls_and_leadership(
    backend: Backend,
) -> None:
    clock = FakeClock(NOW)
    stats = ProcessStats()
    scheduler = Scheduler(backend, name="s1", clock=clock, stuck_worker_timeout=60)
    watch_scheduler(scheduler.on, stats)
    for n in range(2):
        await backend.schedule(int(NOW) - 5, "math", encode_job("add", "math", [n]))
    await backend.register_worker(WorkerId("dead:1", ("math",)), NOW - 600)
    assert await scheduler.poll()
    assert await scheduler.poll()
    queue = Queue(backend, clock=clock)
    leading = samples((await exposition(queue, stats)).decode())
    await backend.set_lock(LEADER_LOCK, "s2", 60)
    assert not await scheduler.poll()
    after = samples((await exposition(queue, stats)).decode())

    assert leading["taskcore_scheduler_promoted_total"] == 2
    assert leading["taskcore_scheduler_cleaned_workers_total"] == 1
    assert leading["taskcore_scheduler_poll_duration_seconds_count"] == 2
    assert leading["taskcore_scheduler_leading"] == 1
    assert leading["taskcore_scheduler_leader_lost_total"] == 0
    assert after["taskcore_scheduler_leading"] == 0
    assert after["taskcore_scheduler_leader_lost_total"] == 1
