"""The dashboard's defences: host check, optional token auth, CSRF, security headers.

* **Host check** (DNS rebinding): a request whose ``Host`` is not an allowed host name gets 400.
  A dashboard bound to loopback allows only loopback names, so a web page on another site cannot
  point its own domain at 127.0.0.1 and read the dashboard.
* **Auth** (optional): with a token set, every request except static files needs it, as
  ``Authorization: Bearer <token>`` or HTTP basic auth with the token as password (any user
  name; browsers prompt for it). Reads are protected too: pages show job arguments, which may
  hold personal data. Missing or wrong credentials get 401. The token is never logged.
* **CSRF**: every change is a POST carrying the per-process token (form field ``csrf_token`` or
  header ``X-CSRF-Token``); a missing or wrong token, or a cross-site ``Origin`` /
  ``Sec-Fetch-Site``, gets 403.
* **Headers** on every response: a Content-Security-Policy allowing only this origin's script and
  style files (no inline script, so injected markup cannot run), ``X-Frame-Options: DENY``,
  ``nosniff``, referrers only to this origin (with ``no-referrer`` browsers send
  ``Origin: null`` on form posts, which the CSRF check refuses), and ``no-store`` caching.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["LOOPBACK_HOSTS", "SECURITY_HEADERS", "Guard", "csrf_refusal", "is_loopback"]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def is_loopback(host: str) -> bool:
    """True when ``host`` (a bind address or host name) only reaches this machine."""
    return host.strip("[]") in LOOPBACK_HOSTS or host.startswith("127.")


def _host_name(header: str) -> str:
    """The host name of a ``Host`` header, without port or IPv6 brackets, lower case."""
    try:
        name = urlsplit(f"//{header}").hostname
    except ValueError:
        return ""
    return (name or "").lower()


class Guard:
    """ASGI middleware: host check, optional token auth, security headers.

    ``allowed_hosts`` of ``None`` or containing ``"*"`` allows any host. ``token`` None or empty
    disables auth. Paths under ``public_prefix`` (static files) need no auth.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None,
        allowed_hosts: Iterable[str] | None,
        public_prefix: str = "/static/",
    ) -> None:
        self.app = app
        self.token = token or None
        hosts = None if allowed_hosts is None else {h.lower().strip("[]") for h in allowed_hosts}
        self.allowed_hosts = None if hosts is None or "*" in hosts else hosts
        self.public_prefix = public_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.decode("latin-1").lower() not in SECURITY_HEADERS
                ]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        headers = Headers(scope=scope)
        refusal = self._refusal(headers, scope.get("path", ""))
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, headers: Headers, path: str) -> PlainTextResponse | None:
        if self.allowed_hosts is not None:
            host = _host_name(headers.get("host", ""))
            if host not in self.allowed_hosts:
                return PlainTextResponse(
                    "invalid Host header: open the dashboard by an allowed host name "
                    "(see --allowed-host)",
                    status_code=400,
                )
        if self.token is None or path.startswith(self.public_prefix):
            return None
        if self._authorized(headers.get("authorization", "")):
            return None
        return PlainTextResponse(
            "authentication required: send the dashboard token as 'Authorization: Bearer "
            "<token>' or as the basic-auth password",
            status_code=401,
            headers={"www-authenticate": 'Basic realm="taskcore dashboard", charset="UTF-8"'},
        )

    def _authorized(self, header: str) -> bool:
        assert self.token is not None
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            given = value.strip()
        elif scheme == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            given = decoded.partition(":")[2]
        else:
            return False
        return hmac.compare_digest(given.encode("utf-8"), self.token.encode("utf-8"))


def csrf_refusal(request: Request, given: str | None, expected: str) -> str | None:
    """Why a POST must be refused (a one-line reason), or None when its CSRF token is right and
    it does not come from another site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"refused: a {site} request cannot change the dashboard's data"
    origin = request.headers.get("origin")
    if origin is not None:
        host = request.headers.get("host", "")
        if origin == "null" or urlsplit(origin).netloc.lower() != host.lower():
            return "refused: the request's Origin is not this dashboard"
    if not given:
        return "refused: the CSRF token is missing; reload the page and try again"
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8")):
        return "refused: the CSRF token is wrong (the dashboard restarted?); reload the page"
    return None
