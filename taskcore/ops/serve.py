"""A minimal HTTP server for one small ASGI app (``taskcore metrics --port``), stdlib only.

Serves ``GET``/``HEAD`` of ``path`` (default ``/metrics``; 404 elsewhere), one request per
connection (``Connection: close``). Requests are hostile input: the request head is limited to
:data:`MAX_HEAD` bytes and must arrive within :data:`READ_TIMEOUT` seconds, and no request body
is read. Binds 127.0.0.1 unless told otherwise: expose it deliberately. For anything more, mount
the ASGI app in a real server (uvicorn, the dashboard).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from taskcore.ops.metrics import ASGIApp

__all__ = ["MAX_HEAD", "READ_TIMEOUT", "serve"]

log = logging.getLogger("taskcore.ops.serve")

MAX_HEAD = 8192
READ_TIMEOUT = 10.0
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


async def serve(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 9464, *, path: str = "/metrics"
) -> asyncio.Server:
    """Start serving ``app`` at ``http://host:port{path}``; returns the started server (its
    ``sockets[0].getsockname()[1]`` is the port when ``port`` is 0). Close it to stop."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _one_request(app, path, reader, writer)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("metrics request failed")
            with contextlib.suppress(Exception):
                await _write(writer, 500, "Internal Server Error", [], b"")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    return await asyncio.start_server(handle, host, port, limit=MAX_HEAD)


async def _one_request(
    app: ASGIApp, path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
    except (asyncio.LimitOverrunError, ValueError):
        await _write(writer, 400, "Bad Request", [], b"request head too large\n")
        return
    request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        await _write(writer, 400, "Bad Request", [], b"malformed request line\n")
        return
    method, target, _version = parts
    if target.split("?", 1)[0] != path:
        await _write(writer, 404, "Not Found", [], f"not found; try {path}\n".encode())
        return
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "query_string": target.partition("?")[2].encode("latin-1"),
        "headers": [],
    }
    response: dict[str, Any] = {"status": 500, "headers": [], "body": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            response["status"] = message["status"]
            response["headers"] = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            response["body"] += message.get("body", b"")

    await app(scope, receive, send)
    status = int(response["status"])
    await _write(
        writer, status, _REASONS.get(status, "Status"), response["headers"], response["body"]
    )


async def _write(
    writer: asyncio.StreamWriter,
    status: int,
    reason: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
) -> None:
    lines = [f"HTTP/1.1 {status} {reason}".encode()]
    names = {name.lower() for name, _ in headers}
    if b"content-length" not in names:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    if b"content-type" not in names:
        headers = [*headers, (b"content-type", b"text/plain; charset=utf-8")]
    lines += [name + b": " + value for name, value in headers]
    lines.append(b"connection: close")
    writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    await writer.drain()
