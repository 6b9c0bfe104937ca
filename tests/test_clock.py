"""FakeClock: time moves only on advance(); sleepers wake in deadline order."""

from __future__ import annotations

import asyncio

import pytest

from taskcore.clock import Clock, FakeClock, SystemClock


async def settle() -> None:
    """Let woken coroutines run."""
    for _ in range(3):
        await asyncio.sleep(0)


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(FakeClock(), Clock)
    assert isinstance(SystemClock(), Clock)


def test_starts_at_the_given_time_and_only_moves_on_advance() -> None:
    clock = FakeClock(100.0)
    assert clock.now() == 100.0
    clock.advance(2.5)
    assert clock.now() == 102.5
    assert FakeClock().now() == 1_800_000_000.0


def test_cannot_go_backwards() -> None:
    clock = FakeClock(100.0)
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert clock.now() == 100.0


async def test_sleep_returns_only_when_advance_passes_the_deadline() -> None:
    clock = FakeClock(0.0)
    task = asyncio.create_task(clock.sleep(10))
    await settle()
    assert clock.sleepers == 1
    clock.advance(9.999)
    await settle()
    assert not task.done()
    clock.advance(0.001)
    await settle()
    assert task.done()
    assert clock.sleepers == 0


async def test_sleepers_wake_in_deadline_order() -> None:
    clock = FakeClock(0.0)
    woke: list[int] = []

    async def sleeper(seconds: int) -> None:
        await clock.sleep(seconds)
        woke.append(seconds)

    tasks = [asyncio.create_task(sleeper(s)) for s in (30, 10, 20)]
    await settle()
    assert clock.sleepers == 3
    clock.advance(25)
    await settle()
    assert woke == [10, 20]
    clock.advance(100)
    await asyncio.gather(*tasks)
    assert woke == [10, 20, 30]


async def test_sleep_zero_or_negative_returns_without_advance() -> None:
    clock = FakeClock(0.0)
    await asyncio.wait_for(clock.sleep(0), 1)
    await asyncio.wait_for(clock.sleep(-5), 1)
    assert clock.now() == 0.0


async def test_cancelled_sleeper_is_not_counted() -> None:
    clock = FakeClock(0.0)
    task = asyncio.create_task(clock.sleep(5))
    await settle()
    task.cancel()
    await settle()
    assert clock.sleepers == 0
    clock.advance(10)  # must not fail on the cancelled future
