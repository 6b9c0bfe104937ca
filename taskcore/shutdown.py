"""How a worker stops: the shutdown deadline, the last outcome, the record of an orphan.

:meth:`~taskcore.worker.Worker.end` lets the loop finish its job, at most ``shutdown_timeout``
seconds or until :meth:`~taskcore.worker.Worker.stop_now` (:func:`stop_loop`); the loop then
records the outcome of the job it ran last (:func:`record_last_outcome`). Then :func:`release`
gives back what the worker holds in storage: whatever stays in its current-job record is failed
by ``clean_worker`` with the record :func:`orphan_failure` writes, so a job is never only in the
process's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from taskcore import codec
from taskcore.backend import Backend, CurrentJob, Outcome, Reservation, WakeUp, WorkerId
from taskcore.readback import Held

__all__ = [
    "FINISH_ATTEMPTS",
    "HURRIED",
    "orphan_failure",
    "record_last_outcome",
    "release",
    "stop_loop",
]

FINISH_ATTEMPTS = 3  # tries to record the last outcome while shutting down

HURRIED = (
    "job cancelled: the worker was told to stop at once (a second stop signal); retry it from "
    "the failed list"
)
"""The failure reason of a job cancelled by :meth:`~taskcore.worker.Worker.stop_now`."""

Recover = Callable[
    [Outcome | None, Held | None],
    Awaitable[tuple[Outcome | None, Reservation | None, Held | None]],
]


async def stop_loop(
    loop_task: asyncio.Task[None],
    hurry: asyncio.Event,
    deadline: float | None,
    cancel_job: Callable[[str | None], None],
) -> None:
    """Wait for ``loop_task`` to finish, at most ``deadline`` seconds (None = no limit) or
    until ``hurry`` is set; then ``cancel_job`` (with :data:`HURRIED` when hurried, None for the
    deadline's reason) and wait for the loop, which still records the cancelled job."""
    hurried = asyncio.ensure_future(hurry.wait())
    try:
        await asyncio.wait(
            {loop_task, hurried}, timeout=deadline, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        hurried.cancel()
    if not loop_task.done():
        cancel_job(HURRIED if hurry.is_set() else None)
    with contextlib.suppress(asyncio.CancelledError):
        await loop_task


async def record_last_outcome(
    channel: Backend,
    worker: WorkerId,
    pending: Outcome | None,
    held: Held | None,
    in_doubt: bool,
    *,
    recover: Recover,
    emit: Callable[..., Any],
    max_wait: float,
) -> None:
    """Record ``pending`` (the outcome of the job in ``held``) on ``channel`` while stopping,
    trying :data:`FINISH_ATTEMPTS` times; storage errors are emitted as ``error`` and waited
    out (0.1 s doubling, at most ``max_wait`` seconds). When the last call is ``in_doubt``
    (it failed, storage may have applied it) ``recover`` reads back what storage did first.

    Never raises for storage errors: whatever stays in the current-job record is failed by
    ``clean_worker`` afterwards (a job reserved by a lost reply but never run, too).
    """
    for attempt in range(FINISH_ATTEMPTS):
        try:
            if in_doubt:
                pending, job, held = await recover(pending, held)
                in_doubt = False
                if job is not None:
                    return  # reserved but never run: clean_worker records it as failed
            if pending is not None:
                await channel.complete(worker, pending)
            return
        except Exception as exc:
            in_doubt = True
            emit("error", exc, None, None)
            if attempt + 1 < FINISH_ATTEMPTS:
                await asyncio.sleep(min(0.1 * 2**attempt, max_wait))


def orphan_failure(worker: str, current: CurrentJob, now: float) -> str:
    """The failure record (encoded) of ``current``, left in ``worker``'s current-job record
    when it ended at ``now`` (unix seconds) before the job's outcome could be recorded. The
    payload is embedded losslessly (:func:`taskcore.codec.embed_payload`): a hostile one held
    when the worker ended still gives a readable record."""
    return codec.encode_failure(
        worker=worker,
        queue=current.queue,
        payload=codec.embed_payload(current.payload),
        exception="WorkerShutdown",
        error="the worker ended before the job's outcome could be recorded",
        backtrace=[f"worker {worker} ended", "worker#end", "taskcore"],
        failed_at=codec.js_date(now),
    )


async def release(
    backend: Backend,
    worker: str,
    wake: WakeUp | None,
    channel: Backend,
    orphan: Callable[[CurrentJob], str] | None,
    emit: Callable[..., Any],
) -> None:
    """Close ``wake``, give ``channel`` back (unless it is ``backend`` itself), then, when
    ``orphan`` is given, unregister ``worker`` with ``clean_worker``, failing the job left in
    its current-job record with the record ``orphan`` encodes. Each step runs even when the
    one before failed; errors are emitted as ``error(error, None, None)``, never raised."""
    if wake is not None:
        try:
            await wake.aclose()
        except Exception as exc:
            emit("error", exc, None, None)
    if channel is not backend:
        try:
            await backend.release_worker_channel(channel)
        except Exception as exc:
            emit("error", exc, None, None)
    if orphan is not None:
        try:
            await backend.clean_worker(worker, orphan)
        except Exception as exc:
            emit("error", exc, None, None)
