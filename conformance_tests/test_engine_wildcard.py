"""Wildcard workers over many queues: they reserve from the queues that hold jobs.

Up to ``WILDCARD_ALL_KNOWN_UP_TO`` known queues a wildcard worker reserves over all of them;
past it, over those holding jobs (:meth:`~taskcore.backend.Backend.queues_with_jobs`), so
one reserve costs the same whatever the number of known queues. It lists again when that
list runs dry: a job pushed meanwhile to a queue that was empty when it listed is not left
waiting for the poll timeout.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from conformance_tests.engine_support import run_until
from conformance_tests.helpers import NOW, job, worker
from taskcore.backend import Backend, Outcome, PollingWakeUp, WakeUp
from taskcore.jobs import Jobs
from taskcore.queue import Queue
from taskcore.queue_order import WILDCARD_ALL_KNOWN_UP_TO, queues_to_work
from taskcore.worker import Worker

pytestmark = pytest.mark.asyncio

MANY = WILDCARD_ALL_KNOWN_UP_TO + 20


async def _known_empty_queues(backend: Backend, count: int) -> list[str]:
    """``count`` queues that are known (pushed to once) and empty again."""
    names = [f"q{n:03d}" for n in range(count)]
    await backend.push_many([(name, job(n)) for n, name in enumerate(names)])
    drainer = worker("drainer:1", *names)
    while await backend.reserve(names, drainer, NOW) is not None:
        await backend.complete(drainer, Outcome.success())
    return names


async def test_a_wildcard_worker_over_many_queues_reserves_from_those_holding_jobs(
    backend: Backend,
) -> None:
    names = await _known_empty_queues(backend, MANY)
    assert await queues_to_work(backend, None) == []
    queue = Queue(backend)
    for name in ("q100", "q010", "q050"):
        await queue.enqueue(name, "note", [name])
    ran: list[str] = []

    async def note(name: str) -> None:
        ran.append(name)

    assert await queues_to_work(backend, None) == ["q010", "q050", "q100"]
    w = Worker(backend, Jobs({"note": note}), queues="*", name="wild:1", timeout=60.0)
    log = await run_until(w, 3)
    assert ran == ["q010", "q050", "q100"]  # priority (name) order kept
    assert log.args("poll")[0] == ("q010,q050,q100",)
    assert len(names) == MANY


async def test_a_wildcard_worker_lists_again_when_its_list_runs_dry(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_notifications(_: Sequence[str]) -> WakeUp:
        return PollingWakeUp()  # pushes do not wake it: only the 60 s poll would

    monkeypatch.setattr(backend, "wake_up", no_notifications)
    await _known_empty_queues(backend, MANY)
    queue = Queue(backend)
    ran: list[str] = []

    async def first() -> None:
        ran.append("first")
        # q005 was empty when the worker listed its queues.
        await queue.enqueue("q005", "later")

    async def later() -> None:
        ran.append("later")

    await queue.enqueue("q090", "first")
    # The poll timeout (60 s) is far past the wait bound: only a fresh list finds "later".
    w = Worker(
        backend, Jobs({"first": first, "later": later}), queues="*", name="wild:2", timeout=60.0
    )
    await run_until(w, 2)
    assert ran == ["first", "later"]


async def test_a_wildcard_worker_over_few_queues_still_reserves_over_every_known_queue(
    backend: Backend,
) -> None:
    names = await _known_empty_queues(backend, 5)
    assert await queues_to_work(backend, None) == names
