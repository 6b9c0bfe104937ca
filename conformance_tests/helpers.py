"""Small builders shared by the contract tests: payloads, workers, a fixed ``now``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self, TypeVar

from taskcore.backend import Backend, CurrentJob, WorkerId
from taskcore.codec import encode_failure, encode_job

__all__ = ["NOW", "TcpProxy", "failure_for", "flushed", "job", "worker"]

B = TypeVar("B", bound=Backend)

NOW = 1_800_000_000.0
"""A fixed ``now`` (unix seconds, in 2027): far from the wall clock, so a driver that reads its
own clock instead of the ``now`` it was given fails the tests that pin time."""


def job(n: Any = 1, queue: str = "math", class_name: str = "add") -> str:
    """A resque payload ``{"class":"add","queue":"math","args":[n]}``, as the core encodes it."""
    return encode_job(class_name, queue, [n])


def worker(name: str = "host:1", *queues: str) -> WorkerId:
    """A worker id; queues default to ``("math",)``."""
    return WorkerId(name, queues or ("math",))


async def holding_a_job(backend: Backend) -> WorkerId:
    """A worker that has reserved ``job(1)`` from ``math``: it holds a current job."""
    w = worker()
    await backend.push("math", job(1))
    await backend.reserve(["math"], w, NOW)
    return w


def failure_for(current: CurrentJob) -> str:
    """A :data:`~taskcore.backend.FailureFactory` building a recognisable failure record."""
    return encode_failure(
        worker=current.worker.name,
        queue=current.queue,
        payload=current.payload,
        exception="Worker Timeout (killed manually)",
        error="Worker Timeout (killed manually)",
        backtrace=["killed by conformance test", "queue#forceCleanWorker", "taskcore"],
        failed_at="Mon Nov 23 2026 06:18:16 GMT+0000 (Coordinated Universal Time)",
    )


class TcpProxy:
    """A TCP forwarder on 127.0.0.1 to ``host:port``, to simulate a server going away.

    :meth:`stop` closes the listener and every forwarded connection at once: clients see their
    connections reset and new connections refused, as when the server dies.
    """

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def stop(self) -> None:
        """Refuse new connections and drop the open ones."""
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def restart(self) -> None:
        """Accept connections again on the same port, as when the server comes back."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers.update((writer, up_writer))
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]
        self._tasks.update(pipes)
        await asyncio.gather(*pipes, return_exceptions=True)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


@contextlib.asynccontextmanager
async def flushed(backend: B) -> AsyncIterator[B]:
    """``backend`` opened, then flushed and closed on exit (a test's private namespace)."""
    await backend.open()
    try:
        yield backend
    finally:
        await backend.flush()
        await backend.aclose()
