"""Events: the small emitter behind ``worker.on("success", ...)`` and friends.

Handlers may be plain functions or coroutine functions:

* sync handlers run immediately, in registration order, inside :meth:`EventEmitter.emit`;
* async handlers are scheduled as tasks (in registration order) and tracked, so
  :meth:`EventEmitter.drain` can wait for them and nothing is garbage-collected mid-flight.

A handler that raises is logged and skipped: an observer can never break the worker, scheduler
or pool that emits. ``emit`` never raises and never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from taskcore.clock import Clock

__all__ = [
    "STOP_SIGNALS",
    "AnyHandler",
    "EventEmitter",
    "Handler",
    "StopSignals",
    "install_stop_signals",
    "remove_stop_signals",
    "sleep_or_stop",
    "until_stop",
]

logger = logging.getLogger("taskcore.events")

Handler = Callable[..., Any]
"""An event handler, called with the event's arguments; sync or async."""

AnyHandler = Callable[..., Any]
"""A catch-all handler, called as ``handler(event_name, *args)``; sync or async."""

H = TypeVar("H", bound=Callable[..., Any])


class EventEmitter:
    """Named events with ordered handlers; see the module docstring for the contract."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._any: list[AnyHandler] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def on(self, event: str, handler: H) -> H:
        """Call ``handler(*args)`` on every ``emit(event, *args)``; returns ``handler`` so it
        can be used as a decorator argument or kept for :meth:`off`."""
        self._handlers.setdefault(event, []).append(handler)
        return handler

    def off(self, event: str, handler: Handler) -> None:
        """Remove one registration of ``handler`` for ``event``; absent handlers are ignored."""
        handlers = self._handlers.get(event, [])
        with contextlib.suppress(ValueError):
            handlers.remove(handler)

    def on_any(self, handler: H) -> H:
        """Call ``handler(event, *args)`` for every event, after the event's own handlers."""
        self._any.append(handler)
        return handler

    def off_any(self, handler: AnyHandler) -> None:
        """Remove a catch-all handler; absent handlers are ignored."""
        with contextlib.suppress(ValueError):
            self._any.remove(handler)

    def listeners(self, event: str) -> list[Handler]:
        """The handlers registered for ``event``, in call order (a copy)."""
        return list(self._handlers.get(event, []))

    def emit(self, event: str, *args: Any) -> None:
        """Deliver ``event`` to its handlers, then to the catch-all handlers. Never raises."""
        for handler in list(self._handlers.get(event, [])):
            self._deliver(event, handler, args)
        for handler in list(self._any):
            self._deliver(event, handler, (event, *args))

    def _deliver(self, event: str, handler: Handler, args: tuple[Any, ...]) -> None:
        try:
            outcome = handler(*args)
        except Exception:
            logger.exception("handler %r for event %r raised; ignored", handler, event)
            return
        if inspect.isawaitable(outcome):
            try:
                task = asyncio.ensure_future(outcome)
            except RuntimeError:
                # No running loop (emit from a thread or after shutdown): nothing can run it.
                logger.error("async handler %r for event %r needs a running loop", handler, event)
                if inspect.iscoroutine(outcome):
                    outcome.close()
                return
            self._tasks.add(task)
            task.add_done_callback(lambda t: self._finished(event, handler, t))

    def _finished(self, event: str, handler: Handler, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            logger.error(
                "async handler %r for event %r raised; ignored",
                handler,
                event,
                exc_info=(type(exc), exc, exc.__traceback__),
            )

    async def drain(self) -> None:
        """Wait until every async handler scheduled so far (and any they schedule) has ended."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def sleep_or_stop(clock: Clock, seconds: float, stop: asyncio.Event) -> bool:
    """Sleep ``seconds`` on ``clock`` unless ``stop`` is set first; True if stopped.

    Lets a heartbeat or scheduler loop sleep on an injected (possibly fake) clock yet end at
    once when asked to.
    """
    if stop.is_set():
        return True
    await until_stop(clock.sleep(seconds), stop)
    return stop.is_set()


async def until_stop(work: Awaitable[object], stop: asyncio.Event) -> None:
    """Await ``work`` until it ends or ``stop`` is set, whichever comes first; the other is
    cancelled. What ``work`` returns or raises is dropped."""
    waiter = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiter, stopper):
            task.cancel()
        await asyncio.gather(waiter, stopper, return_exceptions=True)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def install_stop_signals(callback: Callable[[], object]) -> list[signal.Signals]:
    """Run ``callback`` on SIGTERM/SIGINT in the running loop; returns the signals installed.

    Where the loop cannot take signal handlers (not the main thread, or a platform without loop
    signal support) a signal is left alone rather than failing the caller.
    """
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, callback)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # the loop cannot take handlers for this signal here
        installed.append(sig)
    return installed


def remove_stop_signals(installed: list[signal.Signals]) -> None:
    """Undo :func:`install_stop_signals`; empties ``installed``."""
    loop = asyncio.get_running_loop()
    for sig in installed:
        loop.remove_signal_handler(sig)
    installed.clear()


class StopSignals:
    """SIGTERM/SIGINT for a graceful stop that a second signal shortens but never skips.

    The first signal calls ``stop`` (finish the running jobs, record them, unregister). Every
    later one calls ``hurry`` (cancel the running jobs now; they are still recorded, as
    failures, and the worker still unregisters): the handlers stay installed until
    :meth:`remove`, which the owner calls only once its stop is complete, so no signal can kill
    the process half-way through recording. ``what`` names the owner in the log lines.
    """

    def __init__(self, stop: Callable[[], object], hurry: Callable[[], object], what: str) -> None:
        self._stop = stop
        self._hurry = hurry
        self.what = what
        self.received = 0
        """How many stop signals arrived since :meth:`install`."""
        self._installed: list[signal.Signals] = []

    def install(self) -> None:
        """Handle SIGTERM/SIGINT in the running loop (see :func:`install_stop_signals`)."""
        if not self._installed:
            self._installed = install_stop_signals(self._handle)

    def remove(self) -> None:
        """Give SIGTERM/SIGINT back their default behaviour. Idempotent."""
        remove_stop_signals(self._installed)

    def _handle(self) -> None:
        self.received += 1
        if self.received == 1:
            logger.info(
                "%s: stop signal received; finishing the running jobs (send it again to "
                "cancel them now; they are still recorded as failed)",
                self.what,
            )
            self._stop()
        else:
            logger.warning(
                "%s: stop signal #%d received; cancelling the running jobs now and recording "
                "them as failed before exiting",
                self.what,
                self.received,
            )
            self._hurry()
