"""FakeClock: time moves only on advance(); sleepers wake in deadline order.
StorageClock: local time shifted by the offset measured from the storage server's clock."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

import pytest

from taskcore.clock import Clock, FakeClock, StorageClock, SystemClock
from taskcore.errors import BackendUnavailable

if TYPE_CHECKING:
    from taskcore.backend import Backend


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


class StubServer:
    """A stand-in for a backend's ``server_time``: the server reads ``base`` shifted by
    ``ahead`` seconds; each call may take ``round_trip`` seconds of ``base`` time, or fail."""

    def __init__(self, base: FakeClock, ahead: float, round_trip: float = 0.0) -> None:
        self.base = base
        self.ahead = ahead
        self.round_trip = round_trip
        self.calls = 0
        self.down = False

    async def server_time(self) -> float:
        self.calls += 1
        if self.down:
            raise BackendUnavailable("connection refused; is the server up?")
        self.base.advance(self.round_trip / 2)
        read = self.base.now() + self.ahead
        self.base.advance(self.round_trip / 2)
        return read


def stubbed(
    ahead: float = 42.0, round_trip: float = 0.0, **options: float
) -> tuple[FakeClock, StubServer, StorageClock]:
    """A base clock at 1000.0 s, a server ``ahead`` of it, and a StorageClock (``options``)
    reading that server on that base."""
    base = FakeClock(1000.0)
    server = StubServer(base, ahead=ahead, round_trip=round_trip)
    return base, server, StorageClock(cast("Backend", server), base=base, **options)


def test_a_storage_clock_reads_local_time_until_synced() -> None:
    _, _, clock = stubbed()
    assert isinstance(clock, Clock)
    assert (clock.synced, clock.offset, clock.now()) == (False, 0.0, 1000.0)


async def test_sync_measures_the_servers_offset_at_the_midpoint_of_the_call() -> None:
    base, _, clock = stubbed(round_trip=0.4)
    assert await clock.sync() == pytest.approx(42.0)
    assert clock.synced
    # the call took 0.4 s: the server's reading belongs to its midpoint, not to either end
    assert clock.now() == pytest.approx(base.now() + 42.0)
    base.advance(10)
    assert clock.now() == pytest.approx(1010.4 + 42.0)


async def test_a_server_behind_gives_a_negative_offset() -> None:
    _, _, clock = stubbed(ahead=-600.0)
    await clock.sync()
    assert clock.offset == -600.0
    assert clock.now() == 400.0


async def test_refresh_keeps_the_last_offset_when_storage_is_unreachable() -> None:
    base, server, clock = stubbed(resync_every=60.0)
    await clock.refresh()
    server.down = True
    server.ahead = 99.0
    base.advance(61)
    await clock.refresh()  # never raises for a storage error
    assert server.calls == 2
    assert clock.offset == 42.0
    assert clock.now() == 1061.0 + 42.0


async def test_refresh_never_synced_and_unreachable_stays_on_local_time() -> None:
    _, server, clock = stubbed()
    server.down = True
    await clock.refresh()
    assert (clock.synced, clock.now()) == (False, 1000.0)
    server.down = False
    await clock.refresh()  # not synced yet: tries again at once, not after resync_every
    assert clock.now() == 1042.0


async def test_refresh_measures_again_only_after_resync_every_seconds() -> None:
    base, server, clock = stubbed(resync_every=60.0)
    await clock.refresh()
    assert server.calls == 1
    server.ahead = 50.0  # the server's clock was stepped
    base.advance(59.9)
    await clock.refresh()
    assert (server.calls, clock.offset) == (1, 42.0)  # fresh: no round trip
    base.advance(0.1)
    await clock.refresh()
    assert (server.calls, clock.offset) == (2, 50.0)


async def test_a_storage_clock_sleeps_on_its_base() -> None:
    base, _, clock = stubbed()
    await clock.sync()
    task = asyncio.create_task(clock.sleep(5))
    await settle()
    assert base.sleepers == 1
    base.advance(5)
    await asyncio.wait_for(task, 1)
