"""The dashboard's ASGI app: pages, JSON and POST actions over one :class:`~taskcore.queue.Queue`.

Pages (GET): ``/`` overview, ``/queue?name=Q&page=N``, ``/delayed?page=N``, ``/workers``,
``/failed?page=N``, ``/locks``; ``/api/overview`` is the overview as JSON. Actions (POST, CSRF
token required, each redirects back with a short notice): ``/failed/retry``,
``/failed/remove``, ``/failed/retry-all``, ``/failed/remove-all``, ``/queue/remove``,
``/queue/delete``, ``/delayed/remove``, ``/workers/clean``, ``/locks/delete``. Everything is
read and changed through the Queue and its Backend API, so the dashboard works on every driver.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import Receive, Scope, Send

from taskcore.app import App
from taskcore.config import Settings
from taskcore.errors import JobNotFound, MalformedPayload, TaskcoreError
from taskcore.ops.health import HealthChecker, HealthReport
from taskcore.queue import Queue
from taskcore.web import reads
from taskcore.web.security import LOOPBACK_HOSTS, Guard, csrf_refusal

__all__ = ["Dashboard", "create_app"]

MAX_FORM_BYTES = 65536

NOTICES: Mapping[str, str] = {
    "retried": "{n} failed job(s) re-enqueued",
    "removed": "{n} failed job(s) removed",
    "blocked": "a plugin's before_enqueue hook blocked the retry; the failure stays",
    "gone": "that record is no longer there (handled elsewhere?); the page is up to date",
    "job_removed": "{n} job(s) removed from the queue",
    "queue_deleted": "queue deleted",
    "delayed_removed": "delayed job removed from {n} timestamp(s)",
    "worker_cleaned": "worker removed; {n} job(s) it held moved to the failed list",
    "lock_deleted": "{n} lock(s) deleted",
}


@dataclass
class Dashboard:
    """What the routes share: the Queue, the CSRF token, the health checker, display settings."""

    queue_or_none: Queue | None
    csrf: str
    refresh: float
    page_size: int
    settings: Settings
    health_every: float = 10.0
    _health: tuple[float, HealthReport] | None = None

    @property
    def queue(self) -> Queue:
        if self.queue_or_none is None:
            raise RuntimeError("the dashboard's storage is not open yet (lifespan not started)")
        return self.queue_or_none

    async def health(self, request: Request) -> HealthReport:
        """The ops health verdict, read-only: it compares with the state the ``taskcore health``
        probes stored and never writes it, so the dashboard cannot shorten the probes'
        failed-growth and queue-age windows. A page load checks now; a live refresh reuses a
        verdict up to ``health_every`` seconds old (a check reads every queue)."""
        now = time.monotonic()
        refresh = request.headers.get("x-requested-with") == "taskcore-refresh"
        if not refresh or self._health is None or now - self._health[0] >= self.health_every:
            checker = HealthChecker(self.settings, clock=self.queue.clock)
            self._health = (now, await checker.check(self.queue, record=False))
        return self._health[1]


def _clean_text(value: Any) -> Any:
    """Jinja ``finalize``: any string becomes encodable text (lone surrogates escaped)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return value


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("taskcore.web", "templates"),
        autoescape=True,
        finalize=_clean_text,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["urlq"] = lambda v: quote(str(v).encode("utf-8", "surrogateescape"), safe="")
    env.filters["text"] = reads.display
    env.filters["utc"] = lambda ts: "-" if ts is None else reads.DelayedRow(int(ts), []).when
    env.filters["seconds"] = lambda s: "-" if s is None else f"{s:.1f} s"
    return Jinja2Templates(env=env)


TEMPLATES = _templates()


def _dashboard(request: Request) -> Dashboard:
    board: Dashboard = request.app.state.dashboard
    return board


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _render(request: Request, template: str, **context: Any) -> Response:
    board = _dashboard(request)
    done = request.query_params.get("done")
    notice = NOTICES.get(done or "", "").format(n=_int(request.query_params.get("n"), 0))
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "root": request.scope.get("root_path", ""),
            "csrf": board.csrf,
            "refresh_ms": int(board.refresh * 1000),
            "notice": notice,
            **context,
        },
    )


# ---------------------------------------------------------------------------- pages


async def page_overview(request: Request) -> Response:
    queue = _dashboard(request).queue
    facts = await reads.overview(queue)
    verdict = await _dashboard(request).health(request)
    return _render(request, "overview.html", facts=facts, health=verdict, page_name="overview")


async def api_overview(request: Request) -> Response:
    queue = _dashboard(request).queue
    facts = await reads.overview(queue)
    verdict = await _dashboard(request).health(request)
    facts["queues"] = {reads.display(k, 200): v for k, v in facts["queues"].items()}
    facts["leader"] = None if facts["leader"] is None else reads.display(facts["leader"], 200)
    facts["health"] = {"status": verdict.status, "reasons": verdict.reasons}
    return JSONResponse(facts)


async def _paged(
    request: Request,
    page_name: str,
    read: Callable[[Queue, int, int], Awaitable[tuple[reads.Page, Sequence[object]]]],
    **context: Any,
) -> Response:
    """Render ``<page_name>.html`` with page ``?page=N`` (default 1) of ``read(queue, number,
    size)``, ``size`` being the dashboard's page size."""
    board = _dashboard(request)
    number = _int(request.query_params.get("page"), 1)
    page, rows = await read(board.queue, number, board.page_size)
    return _render(
        request, f"{page_name}.html", page=page, rows=rows, page_name=page_name, **context
    )


async def page_queue(request: Request) -> Response:
    name = request.query_params.get("name", "")
    if not name:
        return PlainTextResponse("name a queue: /queue?name=<queue>", status_code=400)
    return await _paged(
        request,
        "queue",
        lambda queue, number, size: reads.queue_page(queue, name, number, size),
        name=name,
    )


async def page_delayed(request: Request) -> Response:
    return await _paged(request, "delayed", reads.delayed_page)


async def page_workers(request: Request) -> Response:
    rows = await reads.workers(_dashboard(request).queue)
    return _render(request, "workers.html", rows=rows, page_name="workers")


async def page_failed(request: Request) -> Response:
    return await _paged(request, "failed", reads.failed_page)


async def page_locks(request: Request) -> Response:
    queue = _dashboard(request).queue
    locks = sorted((await queue.locks()).items())
    leader = await queue.leader()
    return _render(request, "locks.html", locks=locks, leader=leader, page_name="locks")


# ---------------------------------------------------------------------------- actions

Form = dict[str, str]
ActionHandler = Callable[[Queue, Form], Awaitable[tuple[str, dict[str, Any]]]]


async def _read_form(request: Request) -> Form | None:
    """The url-encoded body as ``{field: first value}``; None when it is too large."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def action(handler: ActionHandler) -> Callable[[Request], Awaitable[Response]]:
    """A POST endpoint: check the CSRF token, run ``handler``, redirect (303) to the page and
    notice it returns."""

    async def endpoint(request: Request) -> Response:
        form = await _read_form(request)
        if form is None:
            return PlainTextResponse("request body too large", status_code=413)
        given = form.get("csrf_token") or request.headers.get("x-csrf-token")
        refusal = csrf_refusal(request, given, _dashboard(request).csrf)
        if refusal is not None:
            return PlainTextResponse(refusal, status_code=403)
        path, params = await handler(_dashboard(request).queue, form)
        query = urlencode({k: v for k, v in params.items() if v is not None})
        path = request.scope.get("root_path", "") + path
        return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)

    return endpoint


def _back(form: Form, path: str, **params: Any) -> tuple[str, dict[str, Any]]:
    return path, {"page": form.get("page") or None, **params}


async def retry_failed(queue: Queue, form: Form) -> tuple[str, dict[str, Any]]:
    raw = await reads.find_failure(queue, form.get("id", ""), _int(form.get("index"), 0))
    if raw is None:
        return _back(form, "/failed", done="gone")
    try:
        ok = await queue.retry_and_remove_failed(raw)
    except (JobNotFound, MalformedPayload):
        return _back(form, "/failed", done="gone")
    return _back(form, "/failed", done="retried" if ok else "blocked", n=1)


async def remove_failed(queue: Queue, form: Form) -> tuple[str, dict[str, Any]]:
    raw = await reads.find_failure(queue, form.get("id", ""), _int(form.get("index"), 0))
    removed = 0 if raw is None else await queue.remove_failed(raw)
    return _back(form, "/failed", done="removed" if removed else "gone", n=removed)


async def retry_all_failed(queue: Queue, form: Form) -> tuple[str, dict[str, Any]]:
    """Retry every retryable failure present when the request came in (a snapshot count, so
    failures added meanwhile, or blocked by a hook, cannot loop it forever)."""
    retried, start, left = 0, 0, await queue.failed_count()
    while left > 0:
        page = await queue.backend.failures(start, start + min(left, 100) - 1)
        if not page:
            break
        left -= len(page)
        start += len(page)
        for raw in page:
            with contextlib.suppress(JobNotFound, MalformedPayload):
                if await queue.retry_and_remove_failed(raw):
                    retried += 1
                    start -= 1
    return "/failed", {"done": "retried", "n": retried}


async def remove_all_failed(queue: Queue, form: Form) -> tuple[str, dict[str, Any]]:
    return "/failed", {"done": "removed", "n": await queue.clear_failed()}


async def remove_queued(queue: Queue, form: Form) -> tuple[str, dict[str, Any]]:
    name = form.get("name", "")
    index = _int(form.get("index"), 0)
    removed = 0
    for raw in await queue.backend.queue_range(name, max(0, index - 200), index + 200):
        if reads.digest(raw) == form.get("id"):
            removed = await queue.backend.remove_from_queue(name, raw, 1)
            break
    return _back(form, "/queue", name=name, done="job_removed" if removed else "gone", n=removed)


async def delete_queue(queue: Queue, form: Form) -> tuple[str, dict[str, Any]]:
    await queue.delete_queue(form.get("name", ""))
    return "/", {"done": "queue_deleted"}


async def remove_delayed(queue: Queue, form: Form) -> tuple[str, dict[str, Any]]:
    timestamp = _int(form.get("timestamp"), -1)
    for raw in await queue.backend.delayed_at(timestamp):
        if reads.digest(raw) == form.get("id"):
            stamps = await queue.backend.remove_delayed(raw)
            return _back(form, "/delayed", done="delayed_removed", n=len(stamps))
    return _back(form, "/delayed", done="gone")


async def clean_worker(queue: Queue, form: Form) -> tuple[str, dict[str, Any]]:
    failures = await queue.force_clean_worker(form.get("name", ""))
    return "/workers", {"done": "worker_cleaned", "n": len(failures)}


async def delete_lock(queue: Queue, form: Form) -> tuple[str, dict[str, Any]]:
    deleted = await queue.del_lock(form.get("name", ""))
    return "/locks", {"done": "lock_deleted" if deleted else "gone", "n": deleted}


# ---------------------------------------------------------------------------- the app


async def storage_error(request: Request, exc: Exception) -> Response:
    """A storage failure on a page: a 503 naming it, instead of a traceback."""
    message = reads.display(str(exc), 500)
    return PlainTextResponse(
        f"storage error: {message}. Check that the storage server is reachable, then reload.",
        status_code=503,
    )


def _routes() -> list[BaseRoute]:
    pages: list[BaseRoute] = [
        Route("/", page_overview),
        Route("/api/overview", api_overview),
        Route("/queue", page_queue),
        Route("/delayed", page_delayed),
        Route("/workers", page_workers),
        Route("/failed", page_failed),
        Route("/locks", page_locks),
    ]
    actions = {
        "/failed/retry": retry_failed,
        "/failed/remove": remove_failed,
        "/failed/retry-all": retry_all_failed,
        "/failed/remove-all": remove_all_failed,
        "/queue/remove": remove_queued,
        "/queue/delete": delete_queue,
        "/delayed/remove": remove_delayed,
        "/workers/clean": clean_worker,
        "/locks/delete": delete_lock,
    }
    pages += [Route(path, action(h), methods=["POST"]) for path, h in actions.items()]
    pages.append(Mount("/static", StaticFiles(packages=[("taskcore.web", "static")])))
    return pages


def _metrics(board: Dashboard) -> list[BaseRoute]:
    """``/metrics`` when prometheus_client (the ``metrics`` extra) is installed, else none."""
    try:
        from taskcore.ops.metrics import metrics_app
    except ImportError:
        return []
    exporter = metrics_app(lambda: board.queue)

    class Metrics:  # a class instance: Route serves it as a raw ASGI app at exactly /metrics
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await exporter(dict(scope), receive, send)

    return [Route("/metrics", Metrics(), methods=["GET", "HEAD"])]


def create_app(
    source: Queue | Settings | None = None,
    *,
    token: str | None = None,
    allowed_hosts: Iterable[str] | None = LOOPBACK_HOSTS,
    csrf_secret: str | None = None,
    refresh: float = 2.0,
    page_size: int = 50,
    settings: Settings | None = None,
    extra_routes: Iterable[BaseRoute] = (),
) -> Starlette:
    """The dashboard as an ASGI app.

    ``source`` is an open :class:`Queue` (used as is, never closed: embed the dashboard in your
    own app) or :class:`Settings` (default: ``Settings()``, from the environment), in which case
    the app opens storage at startup and closes it at shutdown, running no worker or scheduler.
    ``token`` (or None) protects every page and action; ``allowed_hosts`` are the host names
    accepted in ``Host`` (``["*"]`` for any; the default allows loopback names only);
    ``csrf_secret`` fixes the CSRF token (default: random per process); ``refresh`` is the
    pages' live-refresh period in **seconds** (0: off); ``page_size`` rows per page;
    ``settings`` the health thresholds when ``source`` is a Queue (default ``Settings()``).
    ``/metrics`` serves the Prometheus exposition when the ``metrics`` extra is installed.
    """
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, got {page_size}")
    if settings is None:
        settings = source if isinstance(source, Settings) else Settings()
    board = Dashboard(
        source if isinstance(source, Queue) else None,
        csrf_secret or secrets.token_urlsafe(32),
        max(0.0, refresh),
        page_size,
        settings,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if isinstance(source, Queue):
            yield
            return
        values = {**settings.model_dump(), "scheduler": False, "min_workers": 0, "max_workers": 0}
        app = App(Settings(**values))
        await app.open()
        board.queue_or_none = app.queue
        try:
            yield
        finally:
            board.queue_or_none = None
            await app.stop()

    web = Starlette(
        routes=[*extra_routes, *_metrics(board), *_routes()],
        lifespan=lifespan,
        exception_handlers={TaskcoreError: storage_error},
    )
    web.state.dashboard = board
    web.add_middleware(Guard, token=token, allowed_hosts=allowed_hosts)
    return web
