"""Cron tasks on every driver: two Apps (separate backends, one namespace) on one FakeClock.

Every tick runs exactly once across the cluster, through a leader change and a failover
(missed ticks caught up once or skipped, as configured), with no drift; ticks are delayed jobs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from conformance_tests.fixtures import BackendFactory
from taskcore.app import App
from taskcore.backend import Backend
from taskcore.clock import FakeClock
from taskcore.config import Settings
from taskcore.errors import ConfigError
from taskcore.queue import LEADER_LOCK, Queue
from taskcore.tasks import TaskRegistry
from taskcore.tasks.cron import CronSchedule, advance_cron_task
from taskcore.testing import drain

START = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC, on a five-minute mark
EVERY = 300


def cron_registry(runs: list[float], clock: FakeClock, **options: Any) -> TaskRegistry:
    tasks = TaskRegistry()

    @tasks.task(cron=options.pop("cron", "*/5 * * * *"), **options)
    async def sweep() -> None:
        runs.append(clock.now())

    return tasks


class Cluster:
    """Apps sharing one FakeClock and namespace, each on its own backend; no worker pools
    (jobs are worked by :meth:`work`), so the test sees every run."""

    def __init__(self, backend_factory: BackendFactory, clock: FakeClock) -> None:
        self.factory = backend_factory
        self.clock = clock
        self.apps: list[App] = []
        self.runs: list[float] = []
        self.promoted: list[int] = []

    async def start(self, name: str, **options: Any) -> App:
        backend = await self.factory()
        tasks = cron_registry(self.runs, self.clock, **options)
        settings = Settings(max_workers=0, timeout=5)
        app = App(settings, tasks, backend=backend, clock=self.clock, name=name)
        app.on("scheduler.transferred_job", lambda ts, job: self.promoted.append(ts))
        await app.start()
        self.apps.append(app)
        await self.poll()
        return app

    async def poll(self) -> None:
        """One poll of every running scheduler, with its cron step finished."""
        for app in self.apps:
            if app.scheduler is not None:
                await app.scheduler.poll()
                await app.scheduler.drain()

    async def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.poll()
        await self.poll()  # a catch-up tick is promoted by the poll after it was scheduled
        await self.work()

    async def work(self) -> None:
        app = self.apps[-1]
        await drain(app.backend, app.tasks, clock=self.clock, promote_due=False)

    async def stop(self) -> None:
        for app in self.apps:
            await app.stop()


@pytest.fixture
async def cluster(backend_factory: BackendFactory) -> AsyncIterator[Cluster]:
    c = Cluster(backend_factory, FakeClock(START + 1))  # each advance lands 1 s past a mark
    try:
        yield c
    finally:
        await c.stop()


def ticks(first: float, count: int, every: int = EVERY) -> list[int]:
    return [int(first) + every * i for i in range(count)]


async def test_each_tick_runs_once_across_two_apps_and_a_leader_change(cluster: Cluster) -> None:
    a = await cluster.start("a")
    b = await cluster.start("b")
    # the next tick is a delayed job (node-resque sees it) as soon as a leader polls
    assert await a.task.timestamps() == [(int(START) + EVERY) * 1000]
    assert await b.queue.leader() == "a"
    for _ in range(6):
        await cluster.advance(EVERY)
    # the leader dies: its lock expires and b takes over at its next poll
    assert b.scheduler is not None
    await a.backend.release_lock(LEADER_LOCK, "a")
    await b.scheduler.poll()
    await cluster.poll()
    assert await a.queue.leader() == "b"
    for _ in range(6):
        await cluster.advance(EVERY)
    expected = ticks(START + EVERY, 12)
    assert sorted(cluster.promoted) == expected  # each tick promoted once, on its mark
    assert cluster.runs == [t + 1.0 for t in expected]  # no drift over twelve ticks
    assert await b.task.timestamps() == [(expected[-1] + EVERY) * 1000]


@pytest.mark.parametrize(("catchup", "late_runs"), [(True, 1), (False, 0)])
async def test_ticks_missed_with_no_leader_run_once_late_or_are_skipped(
    cluster: Cluster, catchup: bool, late_runs: int
) -> None:
    a = await cluster.start("a", cron_catchup=catchup)
    first = int(START) + EVERY
    assert await a.task.timestamps() == [first * 1000]
    await a.stop()  # no scheduler runs for over three periods
    cluster.clock.advance(3 * EVERY + 100)  # first, +300, +600 came and went; +900 is next
    await cluster.start("b", cron_catchup=catchup)
    await cluster.poll()
    await cluster.work()
    now = cluster.clock.now()
    # the tick scheduled before the outage still runs (late); the missed ones once or never
    assert cluster.runs == [now] * (1 + late_runs)
    assert sorted(cluster.promoted) == [first, first + 2 * EVERY][: 1 + late_runs]
    await cluster.advance(EVERY)
    assert sorted(cluster.promoted)[-1] == first + 3 * EVERY  # back on the marks
    assert len(cluster.runs) == 2 + late_runs


async def test_a_step_running_while_another_moves_the_cursor_never_skips_the_catch_up(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Moving the cursor is compare-and-delete then set-if-absent: between the two it is absent.
    # A second step reading it then (an overlapping poll, a second leader in a failover) used to
    # restart the task at the next tick, so the catch-up tick of an outage was lost.
    clock = FakeClock(START + 1)
    registry = cron_registry([], clock)
    task, queue = registry.get("sweep"), Queue(backend, registry.jobs, clock=clock)
    assert await advance_cron_task(queue, task, START + 1, 0) == [int(START) + EVERY]
    now = START + 1 + 3 * EVERY + 100  # the ticks at +300 (scheduled), +600 and +900 passed
    release, raced = backend.release_lock, []

    async def release_then_race(name: str, value: str | None = None) -> bool:
        released = await release(name, value)
        if name.startswith("taskcore-cron:") and not raced:
            raced.append(await advance_cron_task(queue, task, now, 0))
        return released

    monkeypatch.setattr(backend, "release_lock", release_then_race)
    catch_up, upcoming = int(START) + 3 * EVERY, int(START) + 4 * EVERY
    assert await advance_cron_task(queue, task, now, 0) == [catch_up, upcoming]
    assert raced == [[]]  # the overlapping step left the work to the one in progress
    assert await backend.delayed_timestamps() == [int(START) + EVERY, catch_up, upcoming]


async def test_a_tick_lost_between_claim_and_schedule_is_scheduled_again(
    cluster: Cluster,
) -> None:
    a = await cluster.start("a")
    tick = int(START) + EVERY
    assert [j.class_name for j in await a.task.del_delayed_at(tick * 1000)] == ["sweep"]
    await cluster.poll()
    assert await a.task.timestamps() == [tick * 1000]
    await cluster.advance(EVERY)
    assert cluster.runs == [tick + 1.0]


async def test_racing_leaders_never_schedule_a_tick_twice(
    backend_factory: BackendFactory,
) -> None:
    clock = FakeClock(START)
    backends = [await backend_factory() for _ in range(3)]
    registries = [cron_registry([], clock, cron="* * * * *") for _ in backends]
    now = START
    scheduled: list[int] = []
    for _ in range(20):
        results = await asyncio.gather(
            *(
                advance_cron_task(Queue(b, r.jobs, clock=clock), r.get("sweep"), now, 90)
                for b, r in zip(backends, registries, strict=True)
            )
        )
        scheduled += [t for ticks_ in results for t in ticks_]
        await backends[0].promote_due(now)
        now += 60
    assert sorted(scheduled) == ticks(START + 60, len(scheduled), 60)
    assert len(set(scheduled)) == len(scheduled)
    assert len(scheduled) >= 20


async def test_a_cron_task_in_a_time_zone_follows_its_wall_clock_across_dst(
    backend_factory: BackendFactory,
) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    clock = FakeClock(datetime(2027, 3, 26, 12, 0, tzinfo=berlin).timestamp())
    cluster = Cluster(backend_factory, clock)
    try:
        await cluster.start("a", cron="30 2 * * *", timezone="Europe/Berlin")
        await cluster.start("b", cron="30 2 * * *", timezone="Europe/Berlin")
        for _ in range(4):
            await cluster.advance(24 * 3600)
    finally:
        await cluster.stop()
    shown = [datetime.fromtimestamp(t, berlin).isoformat() for t in sorted(cluster.promoted)]
    assert shown == [
        "2027-03-27T02:30:00+01:00",
        "2027-03-28T03:00:00+02:00",  # 02:30 does not exist that night: run as the clock jumps
        "2027-03-29T02:30:00+02:00",
        "2027-03-30T02:30:00+02:00",
    ]


# ------------------------------------------------------------------ definitions (no storage)


def test_the_repeated_autumn_hour_runs_a_fixed_time_once_and_an_interval_twice() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2027, 10, 31, 0, 0, tzinfo=berlin).timestamp()

    def run(expression: str, count: int) -> list[str]:
        schedule = CronSchedule(expression, "Europe/Berlin")
        out, ts = [], start
        for _ in range(count):
            ts = schedule.next_after(ts)
            out.append(datetime.fromtimestamp(ts, berlin).isoformat())
        return out

    assert run("30 2 * * *", 2) == ["2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00"]
    assert run("0 * * * *", 4) == [
        "2027-10-31T01:00:00+02:00",
        "2027-10-31T02:00:00+02:00",
        "2027-10-31T02:00:00+01:00",  # the hour repeats: real time passes, the job runs
        "2027-10-31T03:00:00+01:00",
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cron": "* * * *"}, "five fields"),
        ({"cron": "0 0 * * * *"}, "five fields"),
        ({"cron": "61 * * * *"}, "not a valid expression"),
        ({"cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "not a known IANA time zone"),
        ({"timezone": "UTC"}, "only used with cron"),
        ({"cron": "0 3 * * *", "frequency": 60}, "either frequency or cron"),
        ({"scope": "some"}, "scope must be 'any' or 'all'"),
    ],
)
def test_bad_cron_definitions_are_config_errors_naming_the_task(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        TaskRegistry().task(**options)(lambda: None)
    assert "'<lambda>'" in str(info.value)


def test_a_cron_task_takes_no_inputs() -> None:
    make: Callable[..., Any] = TaskRegistry().task(cron="0 3 * * *")
    with pytest.raises(ConfigError, match=r"runs on a schedule \(cron='0 3 \* \* \*'\)"):

        @make
        async def nightly(day: str = "today") -> None: ...


async def test_a_cron_tick_is_a_plain_resque_job(backend: Backend) -> None:
    clock = FakeClock(START)
    tasks = cron_registry([], clock)
    queue = Queue(backend, tasks.jobs, clock=clock)
    assert await advance_cron_task(queue, tasks.get("sweep"), START, 10) == [int(START) + EVERY]
    assert await backend.delayed_at(int(START) + EVERY) == [
        '{"class":"sweep","queue":"default","args":[{}]}'
    ]
