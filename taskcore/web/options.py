"""The ``taskcore dashboard`` command's options (no web dependency: the CLI always loads it)."""

from __future__ import annotations

import argparse

__all__ = ["add_dashboard_command"]


def _port(text: str) -> int:
    port = int(text)
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {port}")
    return port


def add_dashboard_command(parser: argparse.ArgumentParser) -> None:
    """Add ``--host``, ``--port``, ``--token``, ``--allowed-host``, ``--refresh`` and
    ``--no-auth`` to the ``dashboard`` command's parser."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8080, help="port (default 8080)")
    parser.add_argument(
        "--token",
        help="require this token for every page and action (Bearer or basic-auth password); "
        "prefer $TASKCORE_DASHBOARD_TOKEN, which other users cannot see in the process list",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="host name browsers use to reach the dashboard (repeatable; default: loopback "
        "names when bound to loopback, any otherwise)",
    )
    parser.add_argument(
        "--refresh",
        type=float,
        default=2.0,
        help="live-refresh period of the pages in seconds (0 turns it off; default 2)",
    )
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="allow binding a non-loopback address without a token (a proxy authenticates)",
    )
