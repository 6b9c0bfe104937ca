"""Running one job: decode, look up, perform hooks, perform, and the outcome to record.

:class:`JobRunner` is the job-running half of a :class:`~taskcore.worker.Worker`; the worker owns
storage and the loop, the runner owns what happens between a reservation and its
:class:`~taskcore.backend.Outcome`. It never touches storage, never raises for a job's error and
never imports code named by a payload: the payload's ``class`` is looked up in the worker's jobs.

Outcome rules:

* a malformed payload or an unknown class: a failure record (``job`` is None for the former);
* a ``before_perform`` hook returning False: :meth:`Outcome.skipped` (neither processed nor
  failed);
* the job (or an ``after_perform`` hook) raised: a failure record, unless a plugin took the
  failure over (``failure_recorded = False``, Retry): counted as failed, nothing listed;
* otherwise a success.

Nothing a payload, the decoder, a hook or the job raises escapes :meth:`JobRunner.process`: any
``Exception`` becomes a recorded failure, the payload embedded losslessly.

Sync perform functions run in a daemon thread of their own (:func:`run_in_thread`), so they do not
block the loop and a process can exit at its shutdown deadline instead of waiting for them. An
awaitable they return is awaited. Python cannot interrupt a thread: a sync job that must stop when
cancelled (its timeout, the shutdown deadline) checks :func:`cancel_requested` or waits on
:func:`cancel_event` instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import threading
import traceback
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from taskcore import codec
from taskcore.backend import Outcome, Reservation
from taskcore.clock import Clock, StorageClock, SystemClock
from taskcore.errors import JobTimeout, UnknownJob
from taskcore.jobs import PerformFn
from taskcore.plugins.base import HookContext, run_hooks

if TYPE_CHECKING:
    from taskcore.worker import Worker

__all__ = [
    "JobRunner",
    "ShutdownDeadlineExceeded",
    "cancel_event",
    "cancel_requested",
    "describe_error",
    "run_in_thread",
    "run_perform",
    "run_with_timeout",
]


class ShutdownDeadlineExceeded(Exception):
    """The job was cancelled because the worker's ``shutdown_timeout`` passed.

    Recorded as the job's failure so the job is not lost: retry it from the failed list.
    """


def _is_async(fn: PerformFn) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 -- async callable objects
    )


def _backtrace(exc: BaseException) -> list[str]:
    try:
        return "".join(traceback.format_exception(exc)).splitlines()
    except Exception:  # a hostile exception can break even the traceback module
        return [describe_error(exc)]


def describe_error(exc: BaseException) -> str:
    """``str(exc)``, or a stand-in naming its type when ``str()`` itself raises."""
    try:
        return str(exc)
    except Exception as broken:
        return f"<{type(exc).__name__} whose str() raised {type(broken).__name__}>"


_CANCEL: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "taskcore_cancel", default=None
)


def cancel_event() -> threading.Event:
    """The event set when the sync job running in this thread is cancelled.

    A sync job cancelled at its ``timeout`` or at the worker's shutdown deadline has already
    been recorded as failed; Python cannot stop its thread, so the job should stop on its own.
    Wait on this event where it would sleep (``cancel_event().wait(5)`` sleeps 5 s but returns
    True at once on cancellation) and return when it is set. Outside a sync job it is an event
    that is never set.
    """
    event = _CANCEL.get()
    return event if event is not None else threading.Event()


def cancel_requested() -> bool:
    """True once the sync job running in this thread was cancelled (see :func:`cancel_event`);
    always False outside a sync job."""
    event = _CANCEL.get()
    return event is not None and event.is_set()


async def run_in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a new daemon thread; returns (or raises) what it returns (or raises).

    Unlike :func:`asyncio.to_thread`, nothing joins the thread: a process can exit while it
    still runs (a job past its deadline, already recorded). Cancelling the caller sets the
    thread's :func:`cancel_event` and returns at once; the thread's late result is dropped. The
    caller's context variables are visible in the thread, as with ``to_thread``.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    cancel = threading.Event()
    context = contextvars.copy_context()
    context.run(_CANCEL.set, cancel)

    def settle(ok: bool, value: Any) -> None:
        if future.done():
            return  # cancelled meanwhile: nobody waits for this result any more
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def target() -> None:
        try:
            outcome = (True, context.run(fn, *args))
        except BaseException as exc:
            outcome = (False, exc)
        with contextlib.suppress(RuntimeError):  # the loop is closed: the process is ending
            loop.call_soon_threadsafe(settle, *outcome)

    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    threading.Thread(target=target, name=f"taskcore-job {name}", daemon=True).start()
    try:
        return await future
    except asyncio.CancelledError:
        cancel.set()
        raise


AFTER_CANCEL_TIMEOUT = 5.0
"""Seconds the after_perform hooks of a job cancelled at the shutdown deadline may take."""


async def run_perform(fn: PerformFn, args: list[Any]) -> Any:
    """Call ``fn(*args)``: awaited when async, in a daemon thread (:func:`run_in_thread`) when
    sync; returns its result (an awaitable returned by a sync function is awaited too)."""
    if _is_async(fn):
        return await fn(*args)
    result = await run_in_thread(fn, *args)
    if inspect.isawaitable(result):
        result = await result
    return result


async def run_with_timeout(work: Coroutine[Any, Any, Any], timeout: float, clock: Clock) -> Any:
    """Await ``work`` in the calling task, cancelling it and raising :class:`JobTimeout` once
    ``timeout`` seconds have passed on ``clock`` (a FakeClock in tests, so no test waits for
    real).

    No task is created for ``work``: on the system clock the deadline is a ``call_later``
    timer that cancels the calling task, and the cancellation is taken back (``uncancel``)
    when it was the timer's alone, as :func:`asyncio.timeout` does. Another cancellation of
    the caller (a shutdown deadline) arriving meanwhile still propagates as
    :class:`asyncio.CancelledError`. Other clocks get one timer task sleeping on them.
    """
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - always called from a task
        raise RuntimeError("run_with_timeout must be awaited inside an asyncio task")
    fired = False

    def expire() -> None:
        nonlocal fired
        if not fired:
            fired = True
            task.cancel()

    cancel_timer = _start_timer(clock, timeout, expire)
    try:
        result = await work
        if fired:  # the job finished (or swallowed the cancellation) as the timer fired
            await absorb_cancellation(task)
        return result
    except asyncio.CancelledError:
        if not fired or task.uncancel() > 0:
            raise
        raise JobTimeout(
            f"job ran longer than its timeout of {timeout:g} s and was cancelled; raise the "
            "job's timeout if it needs longer, or retry it from the failed list"
        ) from None
    finally:
        cancel_timer()


async def absorb_cancellation(task: asyncio.Task[Any]) -> None:
    """Take back one cancellation of ``task`` (the current task) that we requested and that
    was either swallowed by the code it targeted or is still pending; re-raise
    :class:`asyncio.CancelledError` when another cancellation is in force as well."""
    try:
        await asyncio.sleep(0)  # a pending cancellation is delivered here
    except asyncio.CancelledError:
        if task.uncancel() > 0:
            raise
        return
    if task.uncancel() > 0:
        raise asyncio.CancelledError


def _start_timer(clock: Clock, seconds: float, callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` after ``seconds`` on ``clock``; returns what cancels the timer."""
    base = clock.base if isinstance(clock, StorageClock) else clock
    if isinstance(base, SystemClock):
        return asyncio.get_running_loop().call_later(max(0.0, seconds), callback).cancel

    async def timer() -> None:
        await clock.sleep(seconds)
        callback()

    timer_task = asyncio.ensure_future(timer())

    def stop() -> None:
        timer_task.cancel()

    return stop


class JobRunner:
    """Runs the jobs of ``worker`` one at a time and tells it what to record.

    Reads the worker's ``name``, ``jobs``, ``queue``, ``clock`` and ``shutdown_timeout`` when it
    needs them and emits the worker's ``job``, ``success`` and ``failure`` events. ``job`` is the
    decoded job while it runs (None otherwise); ``working`` is True while a reservation is being
    processed.
    """

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.working = False
        self.job: codec.Job | None = None
        self._owner: asyncio.Task[Any] | None = None  # the task running a job, while it does
        self._cancel_requested = False
        self._cancel_reason: str | None = None

    def cancel(self, reason: str | None = None) -> bool:
        """Cancel the running job (a shutdown deadline, or a second stop signal); False when no
        job is running.

        The job's outcome becomes a :class:`ShutdownDeadlineExceeded` failure whose message is
        ``reason`` (by default: the ``shutdown_timeout`` passed).
        """
        if self._owner is None:
            return False
        if not self._cancel_requested:
            self._cancel_requested = True
            self._cancel_reason = reason
            self._owner.cancel()
        return True

    async def process(self, reservation: Reservation) -> Outcome:
        """Run one reserved job and return the outcome to record.

        Never raises an ``Exception``: whatever the payload, the decoder, a hook or the job
        raises becomes a failure record (with the payload embedded losslessly). Only the
        cancellation of the caller itself propagates.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.working = True
        try:
            return await self._process(reservation, started)
        except Exception as exc:
            return self._failed(reservation, self.job, exc, loop.time() - started)
        finally:
            self.working = False
            self.job = None

    async def _process(self, reservation: Reservation, started: float) -> Outcome:
        worker = self.worker
        loop = asyncio.get_running_loop()
        queue = reservation.queue
        try:
            job = codec.decode_job(reservation.payload, queue)
        except Exception as exc:  # MalformedPayload, or whatever a hostile payload provokes
            return self._failed(reservation, None, exc, loop.time() - started)
        self.job = job
        definition = worker.jobs.get(job.class_name)
        if definition is None:
            error = UnknownJob(f'No job defined for class "{job.class_name}"')
            return self._failed(reservation, job, error, loop.time() - started)
        worker.emit("job", queue, job)
        context = HookContext(
            job.class_name, queue, job.args, definition, worker.queue, worker=worker
        )
        if not await self._perform(context):
            worker.emit("skipped", queue, job, loop.time() - started)
            return Outcome.skipped()
        duration = loop.time() - started
        if context.error is None:
            worker.emit("success", queue, job, context.result, duration)
            return Outcome.success()
        if not context.failure_recorded:
            # A plugin (Retry) took the failure over: counted as failed, not listed.
            return Outcome.failure(None)
        return self._failed(reservation, job, context.error, duration)

    async def _perform(self, context: HookContext) -> bool:
        """Hooks and perform; False when a before_perform hook stopped the job.

        The job is awaited in the caller's task (no task per job). :meth:`cancel` cancels that
        task while it is inside the job, and the cancellation is taken back here (``uncancel``)
        when it was ours alone, so a shutdown deadline stops the job without stopping the
        worker's loop; any other cancellation of the caller propagates. A job cancelled that
        way still gets its after_perform hooks, with the deadline error set, so plugins release
        what they hold (JobLock's lock) or schedule a retry; they get ``AFTER_CANCEL_TIMEOUT``
        seconds for it.
        """
        owner = asyncio.current_task()
        assert owner is not None, "jobs run inside an asyncio task"
        self._owner = owner
        self._cancel_requested = False
        cancelled = False
        proceed = True
        try:
            proceed = await self._invoke(context)
        except asyncio.CancelledError:
            if not self._cancel_requested or owner.uncancel() > 0:
                self._cancel_requested = False
                raise  # the caller itself is being cancelled
            context.error = self._deadline_error()
            cancelled = True
        except Exception as exc:
            context.error = exc
        finally:
            self._owner = None
        requested, self._cancel_requested = self._cancel_requested, False
        if requested and not cancelled:
            # The job returned (or swallowed the cancellation) as it was cancelled: its
            # outcome stands; take the cancellation back before awaiting anything else.
            await absorb_cancellation(owner)
        if not proceed:
            return False
        try:
            if cancelled:
                async with asyncio.timeout(AFTER_CANCEL_TIMEOUT):
                    await run_hooks("after_perform", context)
            else:
                await run_hooks("after_perform", context)
        except TimeoutError:
            pass  # the deadline error already stands as the outcome
        except Exception as exc:
            context.error = exc
        return True

    def _deadline_error(self) -> ShutdownDeadlineExceeded:
        reason, self._cancel_reason = self._cancel_reason, None
        return ShutdownDeadlineExceeded(
            reason
            or f"job cancelled: still running {self.worker.shutdown_timeout} s after the "
            "worker was asked to stop; retry it from the failed list"
        )

    async def _invoke(self, context: HookContext) -> bool:
        if not await run_hooks("before_perform", context):
            return False
        perform = run_perform(context.job.perform, context.args)
        timeout = context.job.timeout
        if timeout is None:
            context.result = await perform
        else:
            context.result = await run_with_timeout(perform, timeout, self.worker.clock)
        return True

    def _failed(
        self,
        reservation: Reservation,
        job: codec.Job | None,
        error: BaseException,
        duration: float,
    ) -> Outcome:
        worker = self.worker
        payload = reservation.payload
        if job is None:  # a payload that decoded as a job is embedded as is: no second parse
            payload = codec.embed_payload(payload)
        record = codec.encode_failure(
            worker=worker.name,
            queue=reservation.queue,
            payload=payload,
            exception=type(error).__name__,
            error=describe_error(error),
            backtrace=_backtrace(error),
            failed_at=codec.js_date(worker.clock.now()),
        )
        worker.emit("failure", reservation.queue, job, error, duration)
        return Outcome.failure(record)

    async def perform_inline(self, func: str, args: Any = None) -> Any:
        """Run job ``func`` with its perform hooks in this process; nothing touches storage.

        Returns the job's result, or None if a before_perform hook stopped it. Raises
        :class:`~taskcore.errors.UnknownJob` for an unregistered class, and re-raises the job's
        error unless an after_perform hook cleared it. The hooks see no worker (``worker`` None).
        """
        worker = self.worker
        definition = worker.jobs.get(func)
        if definition is None:
            raise UnknownJob(f'No job defined for class "{func}"')
        context = HookContext(
            func, f"_direct-queue-{worker.name}", codec.arrayify(args), definition, worker.queue
        )
        if not await run_hooks("before_perform", context):
            return None
        try:
            context.result = await run_perform(definition.perform, context.args)
        except Exception as exc:
            context.error = exc
        await run_hooks("after_perform", context)
        if context.error is not None:
            raise context.error
        return context.result
