"""Worker processes: a supervisor that starts N ``taskcore`` processes, keeps them running and
stops them gracefully.

:class:`Supervisor` runs ``python -m taskcore <command ...>`` ``processes`` times. Each child is
an ordinary taskcore process (its own :class:`~taskcore.app.App`, its own registered workers,
named ``<hostname>:<pid>`` as node-resque names them, visible to node-resque as such); the
supervisor touches no storage.

* **Restart.** A child that exits while the supervisor is not stopping is started again after
  ``restart_delay`` seconds (doubling while it keeps dying, at most 5 s). Whatever job it held
  stays in its current-job record and is recovered as for any dead worker: a scheduler's
  stuck-worker check moves it to the failed list once its heartbeat is older than
  ``stuck_worker_timeout``.
* **Crash loop.** When children died more than ``max_restarts`` times within ``restart_window``
  seconds, the supervisor stops the others gracefully and :meth:`Supervisor.run` returns 1.
* **Stop.** SIGTERM or SIGINT is forwarded to every child as SIGTERM (a graceful stop: running
  jobs finish, workers unregister); a second one is forwarded too and shortens the children's
  stop (their running jobs are cancelled and recorded as failed). :meth:`Supervisor.run`
  returns 0 when every child then exited with status 0, 1 otherwise.
* **Orphans.** Children run in a session of their own (a terminal's Ctrl-C reaches only the
  supervisor, which forwards exactly one SIGTERM) and read their stdin, a pipe from the
  supervisor: when it closes (the supervisor was killed) they stop gracefully on their own
  (:func:`watch_supervisor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence

from taskcore.events import install_stop_signals, remove_stop_signals

__all__ = ["SUPERVISED_ENV", "Supervisor", "watch_supervisor"]

logger = logging.getLogger("taskcore.supervisor")

SUPERVISED_ENV = "TASKCORE_SUPERVISED"
"""Set to ``"1"`` in a child's environment: it stops when its stdin (the supervisor) closes."""

_MAX_RESTART_DELAY = 5.0


class Supervisor:
    """Starts ``processes`` children running ``python -m taskcore *argv`` and supervises them.

    ``argv`` is the child's command line (e.g. ``["worker", "myapp:tasks", "--processes",
    "1"]``); it must not ask for processes again. Durations are seconds.
    """

    def __init__(
        self,
        argv: Sequence[str],
        processes: int,
        *,
        max_restarts: int = 5,
        restart_window: float = 60.0,
        restart_delay: float = 0.5,
        python: str = sys.executable,
    ) -> None:
        if processes < 1:
            raise ValueError(f"processes={processes}: give 1 or more")
        self.argv = list(argv)
        self.processes = processes
        self.max_restarts = max_restarts
        self.restart_window = restart_window
        self.restart_delay = restart_delay
        self.python = python
        self.children: dict[int, asyncio.subprocess.Process] = {}
        """The live child of each slot (0 .. processes - 1)."""
        self.restarts = 0
        """How many children were started again after dying."""
        self._deaths: deque[float] = deque()
        self._stopping = asyncio.Event()
        self._signals = 0
        self._failed = False

    async def run(self) -> int:
        """Start the children, supervise them until a stop signal (or :meth:`stop`) or a crash
        loop, stop them, and return the exit status (0 clean, 1 otherwise)."""
        installed = install_stop_signals(self.stop)
        try:
            slots = [asyncio.create_task(self._keep(slot)) for slot in range(self.processes)]
            codes = await asyncio.gather(*slots)
        finally:
            remove_stop_signals(installed)
        return 1 if self._failed or any(code != 0 for code in codes) else 0

    def stop(self) -> None:
        """Forward SIGTERM to every child: the first call stops them gracefully, a second one
        shortens their stop. Safe from a signal handler."""
        self._signals += 1
        self._stopping.set()
        for child in self.children.values():
            self._terminate(child)

    def _terminate(self, child: asyncio.subprocess.Process) -> None:
        if child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)

    async def _start(self) -> asyncio.subprocess.Process:
        env = {**os.environ, SUPERVISED_ENV: "1"}
        return await asyncio.create_subprocess_exec(
            self.python,
            "-m",
            "taskcore",
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
        )

    async def _keep(self, slot: int) -> int:
        """Keep one child running in ``slot`` until the stop; returns its last exit status."""
        delay = self.restart_delay
        while True:
            child = await self._start()
            self.children[slot] = child
            for _ in range(self._signals):  # a stop arrived while it was starting
                self._terminate(child)
            code = await child.wait()
            if child.stdin is not None:
                child.stdin.close()
            if self._stopping.is_set():
                return code
            if self._crash_loop():
                logger.error(
                    "taskcore supervisor: worker processes died %d times within %g s (the last "
                    "with exit status %s); stopping. Read the children's errors above and fix "
                    "the cause before starting again",
                    len(self._deaths),
                    self.restart_window,
                    code,
                )
                self._failed = True
                self.stop()
                return code
            logger.warning(
                "taskcore supervisor: worker process %s exited with status %s; starting "
                "another in %g s",
                child.pid,
                code,
                delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
                return code
            delay = min(delay * 2, _MAX_RESTART_DELAY)
            self.restarts += 1

    def _crash_loop(self) -> bool:
        now = time.monotonic()
        self._deaths.append(now)
        while self._deaths and now - self._deaths[0] > self.restart_window:
            self._deaths.popleft()
        return len(self._deaths) > self.max_restarts


async def watch_supervisor(stop: Callable[[], None]) -> None:
    """In a supervised child: call ``stop`` once stdin, the supervisor's pipe, reaches end of
    file (the supervisor exited or was killed). Returns at once when not supervised."""
    if os.environ.get(SUPERVISED_ENV) != "1":
        return
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (OSError, ValueError):
        return  # stdin is not a pipe: nothing to watch
    while await reader.read(4096):
        pass
    logger.warning("taskcore: the supervisor went away; stopping gracefully")
    stop()
