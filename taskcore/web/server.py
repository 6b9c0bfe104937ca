"""``serve()``: run the dashboard with uvicorn (what ``taskcore dashboard`` calls)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import uvicorn

from taskcore.config import Settings
from taskcore.errors import ConfigError
from taskcore.web.app import create_app
from taskcore.web.security import LOOPBACK_HOSTS, is_loopback

__all__ = ["TOKEN_ENV", "serve"]

TOKEN_ENV = "TASKCORE_DASHBOARD_TOKEN"

log = logging.getLogger("taskcore.web")


def resolve_token(token: str | None) -> str | None:
    """``token``, else ``$TASKCORE_DASHBOARD_TOKEN``, else None; an empty string means none."""
    value = token if token is not None else os.environ.get(TOKEN_ENV)
    return value or None


async def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None = None,
    allowed_hosts: Sequence[str] = (),
    refresh: float = 2.0,
    no_auth: bool = False,
) -> None:
    """Serve the dashboard for ``settings``' storage on ``host``:``port`` until SIGINT/SIGTERM.

    ``token`` (default ``$TASKCORE_DASHBOARD_TOKEN``) protects every page and action. Binding
    to a non-loopback address without a token is refused (:class:`ConfigError`) unless
    ``no_auth``. ``allowed_hosts`` are the host names browsers may use (default: loopback names
    when bound to loopback, any otherwise). ``refresh`` is the live-refresh period in seconds.
    """
    secret = resolve_token(token)
    if secret is None and not is_loopback(host) and not no_auth:
        raise ConfigError(
            f"the dashboard would serve {host} without authentication: set --token or "
            f"${TOKEN_ENV}, or pass --no-auth if a proxy in front of it authenticates"
        )
    hosts: Sequence[str] = allowed_hosts or (LOOPBACK_HOSTS if is_loopback(host) else ("*",))
    app = create_app(settings, token=secret, allowed_hosts=hosts, refresh=refresh)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", lifespan="on")
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host
    log.info(
        "taskcore dashboard on http://%s:%d/ for %s (auth: %s)",
        shown,
        port,
        settings.safe_url,
        "token" if secret else "none",
    )
    await server.serve()
