"""The reserve calls of one backend's workers, run together: one statement, one commit.

Under load a PostgreSQL worker's cycle is one statement and one commit per job, and what
limits a process's pool is the server's work per statement and its commit (the WAL flush),
not the worker. :class:`ReserveBatcher` runs at most ``max_in_flight`` reserve statements at
once for one backend; a call made while that many are running waits and goes, with every other
call made meanwhile, in the next one. A call made when fewer are running and none waits runs
at once, by its caller, alone (the one-worker statement), so an idle worker waits no longer
than without batching.

Contract, for each call, the same as when it runs alone (:meth:`PostgresBackend.reserve
<taskcore_postgres.backend.PostgresBackend.reserve>`): its outcome is recorded, its next job
(if any) is written to its own current-job row in the same commit, and jobs go out in queue
priority then FIFO order across the batch. A statement is all or nothing, so a statement
that fails fails every call in it with the same error, and each worker then reads back its own
row, exactly as after a failed call of its own. Calls go together only when they reserve from
the same queue list in the same order and register the same queues (a pool's workers do); a
worker has one call at a time, so a batch never holds one worker twice. A call run by its
caller is cancelled with it, as any storage call. A waiting caller cancelled before its
statement starts is left out of it; one cancelled while its shared statement runs
waits for that statement to end (up to :data:`CANCEL_WAIT` seconds) before the cancellation
goes on, so a job it reserved is already in the worker's current-job record, where ending the
worker (or a scheduler's stuck-worker pass) moves it to the failed list: nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from taskcore.errors import BackendError
from taskcore.protocol_types import Outcome, Reservation, WorkerId

__all__ = ["BatchKey", "ReserveBatcher", "ReserveCall"]

BatchKey = tuple[tuple[str, ...], tuple[str, ...]]
"""What calls must share to go in one statement: the queues reserved from (priority order)
and the queues the workers register with."""

MAX_BATCH = 100
"""At most this many calls in one statement (a pool has 20 workers by default)."""

CANCEL_WAIT = 10.0
"""Seconds a cancelled caller whose statement is running still waits for it to end."""


@dataclass(slots=True)
class ReserveCall:
    """One worker's reserve: record ``outcome`` (when not None), reserve its next job."""

    worker: WorkerId
    now: float
    outcome: Outcome | None
    future: asyncio.Future[Reservation | None] | None = field(default=None, repr=False)
    """Where a waiting call's result goes (None for a call run by its caller)."""
    taken: bool = False
    """Its statement has started: the caller can no longer withdraw it."""
    dropped: bool = False
    """Its caller stopped waiting before its statement started: left out of it."""


Execute = Callable[[BatchKey, Sequence[ReserveCall]], Awaitable[list[Reservation | None]]]
"""Runs one batch: one result per call, in order; raises when the statement failed."""


class ReserveBatcher:
    """Coalesces concurrent reserve calls of one backend into shared statements."""

    def __init__(self, execute: Execute, max_in_flight: int) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        self._execute = execute
        self.max_in_flight = max_in_flight
        self._pending: dict[BatchKey, list[ReserveCall]] = {}
        self._runners: set[asyncio.Future[None]] = set()
        self._in_flight = 0
        self.statements = 0
        """Statements run so far (with :attr:`calls`, the mean batch size)."""
        self.calls = 0
        """Calls answered so far."""

    async def submit(
        self, key: BatchKey, worker: WorkerId, now: float, outcome: Outcome | None
    ) -> Reservation | None:
        """Run one call: at once, by the caller, when fewer than ``max_in_flight`` statements
        are running and no call waits; otherwise queued for the next shared statement."""
        call = ReserveCall(worker, now, outcome)
        if self._in_flight < self.max_in_flight and not self._pending:
            self._in_flight += 1
            try:
                return (await self._counted(key, [call]))[0]
            finally:
                self._in_flight -= 1
                self._resume()
        future: asyncio.Future[Reservation | None] = asyncio.get_running_loop().create_future()
        call.future = future
        self._pending.setdefault(key, []).append(call)
        self._resume()
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if not call.taken:
                call.dropped = True
            else:
                # Wait for the shared statement to end, so a job it reserved is in the
                # worker's current-job record before the caller goes on to end the worker.
                with contextlib.suppress(Exception, asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(future), CANCEL_WAIT)
            raise

    async def _counted(
        self, key: BatchKey, calls: Sequence[ReserveCall]
    ) -> list[Reservation | None]:
        results = await self._execute(key, calls)
        self.statements += 1
        self.calls += len(calls)
        return results

    def _resume(self) -> None:
        """Start a runner for the waiting calls when a statement slot is free."""
        if self._pending and self._in_flight < self.max_in_flight:
            self._in_flight += 1
            runner = asyncio.ensure_future(self._run())
            self._runners.add(runner)
            runner.add_done_callback(self._runners.discard)

    def _take(self) -> tuple[BatchKey, list[ReserveCall]] | None:
        """The oldest waiting group's calls (at most :data:`MAX_BATCH`), or None."""
        for key, calls in self._pending.items():
            batch = [call for call in calls[:MAX_BATCH] if not call.dropped]
            rest = calls[MAX_BATCH:]
            if rest:
                self._pending[key] = rest
            else:
                del self._pending[key]
            if batch:
                for call in batch:
                    call.taken = True
                return key, batch
            return self._take()
        return None

    async def _run(self) -> None:
        """Run statements while calls wait, then stop (a new call starts another runner)."""
        try:
            await self._serve()
        finally:
            self._in_flight -= 1

    async def _serve(self) -> None:
        while (taken := self._take()) is not None:
            key, calls = taken
            try:
                results = await self._counted(key, calls)
            except Exception as exc:
                for call in calls:
                    if call.future is not None and not call.future.done():
                        call.future.set_exception(exc)
                continue
            except BaseException:
                # Cancelled (the loop is closing): the callers' statement may or may not
                # have committed, which a storage error tells them to read back.
                for call in calls:
                    if call.future is not None and not call.future.done():
                        call.future.set_exception(
                            BackendError("the reserve statement was cancelled before it ended")
                        )
                raise
            for call, result in zip(calls, results, strict=True):
                if call.future is not None and not call.future.done():
                    call.future.set_result(result)

    async def aclose(self) -> None:
        """Wait for the statements in flight (the backend closes its pool after)."""
        if self._runners:
            await asyncio.gather(*self._runners, return_exceptions=True)
