"""The web dashboard at the ASGI level: each page and action on every driver, and its defences
(CSRF, auth, host check, escaping, security headers, unreadable records)."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio

from conformance_tests import drivers
from conformance_tests.drivers import DriverSpec
from conformance_tests.fixtures import *  # noqa: F403 -- backend, storage_url, ... by name
from taskcore import codec
from taskcore.backend import Backend, WorkerId
from taskcore.cli import main
from taskcore.clock import FakeClock
from taskcore.queue import LEADER_LOCK, Queue
from taskcore.web import create_app

CSRF = "test-csrf-token"
NOW = 1_800_000_000.0


@pytest.fixture(params=drivers.pytest_params())
def driver(request: pytest.FixtureRequest) -> DriverSpec:
    spec: DriverSpec = request.param
    return spec


@dataclass
class Web:
    client: httpx.AsyncClient
    queue: Queue
    clock: FakeClock

    async def page(self, path: str, **params: Any) -> str:
        response = await self.client.get(path, params=params or None)
        assert response.status_code == 200, response.text
        return response.text

    async def post(self, path: str, **fields: Any) -> httpx.Response:
        return await self.client.post(path, data={"csrf_token": CSRF, **fields})


def _client(app: Any, **kwargs: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", **kwargs)


@pytest_asyncio.fixture
async def web(backend: Backend) -> AsyncIterator[Web]:
    clock = FakeClock(NOW)
    queue = Queue(backend, clock=clock)
    app = create_app(queue, csrf_secret=CSRF, refresh=0, page_size=2)
    async with _client(app) as client:
        yield Web(client, queue, clock)


async def _fail(backend: Backend, cls: str, args: list[Any], queue: str = "mail") -> str:
    record = codec.encode_failure(
        worker="host:1",
        queue=queue,
        payload=codec.encode_job(cls, queue, args),
        exception="RuntimeError",
        error=f"{cls} broke",
        backtrace=["at perform (jobs.py:12)", "at run (worker.py:40)"],
        failed_at=codec.js_date(NOW),
    )
    await backend.push_failure(record)
    return record


def _ids(html: str) -> list[tuple[str, str]]:
    """The (id, index) pairs of the record forms of a page, in page order, deduplicated."""
    pairs = re.findall(
        r'name="id" value="([0-9a-f]+)">\s*<input type="hidden" name="index" '
        r'value="(\d+)"',
        html,
    )
    return list(dict.fromkeys(pairs))


# ---------------------------------------------------------------------------- pages


async def test_overview_shows_queues_delayed_workers_failed_and_leader(web: Web) -> None:
    queue, backend = web.queue, web.queue.backend
    await queue.enqueue("mail", "Send", [1])
    await queue.enqueue("mail", "Send", [2])
    await queue.enqueue("reports", "Build", [])
    await queue.enqueue_at(NOW * 1000 + 60_000, "mail", "Later", [3])
    await _fail(backend, "Send", [9])
    worker = WorkerId("host:1", ("reports",))
    await backend.register_worker(worker, NOW)
    await backend.reserve(["reports"], worker, NOW)
    await backend.acquire_lock(LEADER_LOCK, "scheduler-a", 60)

    html = await web.page("/")
    assert re.search(r'data-queue="mail">.*?class="num length">2<', html, re.S)
    assert "scheduler-a" in html

    facts = (await web.client.get("/api/overview")).json()
    assert facts["queues"] == {"mail": 2, "reports": 0}
    assert (facts["delayed"], facts["failed"], facts["workers"], facts["busy"]) == (1, 1, 1, 1)
    assert facts["leader"] == "scheduler-a"
    assert facts["health"]["status"] == "ok", facts["health"]


async def test_health_warns_without_a_leader_and_with_a_stuck_worker(web: Web) -> None:
    await web.queue.backend.register_worker(WorkerId("host:9", ("*",)), NOW - 7200)
    facts = (await web.client.get("/api/overview")).json()
    assert facts["health"]["status"] == "warn"
    reasons = " ".join(facts["health"]["reasons"])
    assert "leader" in reasons and "host:9" in reasons
    assert "health-warn" in await web.page("/")


async def test_metrics_are_served_with_the_dashboard(web: Web) -> None:
    await web.queue.enqueue("mail", "Send", [1])
    response = await web.client.get("/metrics")
    assert response.status_code == 200
    assert 'taskcore_queue_length{queue="mail"} 1.0' in response.text


async def test_queue_page_lists_its_jobs_a_page_at_a_time(web: Web) -> None:
    for n in range(5):
        await web.queue.enqueue("mail", "Send", [n])
    first = await web.page("/queue", name="mail")
    assert "page 1 of 3" in first and "[0]" in first and "[1]" in first and "[2]" not in first
    last = await web.page("/queue", name="mail", page=3)
    assert "[4]" in last and "[3]" not in last


async def test_delayed_page_lists_jobs_by_due_time(web: Web) -> None:
    await web.queue.enqueue_at(NOW * 1000 + 120_000, "mail", "Second", [])
    await web.queue.enqueue_at(NOW * 1000 + 60_000, "mail", "First", ["x"])
    html = await web.page("/delayed")
    assert html.index("First") < html.index("Second")
    assert "2027-01-15 08:01:00 UTC" in html  # NOW + 60 s


async def test_workers_page_shows_the_job_and_its_run_time(web: Web) -> None:
    worker = WorkerId("host:1", ("mail",))
    await web.queue.enqueue("mail", "Send", ["a@b.c"])
    await web.queue.backend.register_worker(worker, NOW)
    await web.queue.backend.reserve(["mail"], worker, NOW)
    web.clock.advance(12.5)
    html = await web.page("/workers")
    assert 'data-worker="host:1"' in html and "busy" in html
    assert "Send" in html and "a@b.c" in html
    assert "12.5 s" in html


async def test_locks_page_lists_and_deletes_a_lock(web: Web) -> None:
    await web.queue.backend.acquire_lock("lock:Send-[1]", "1800000000", 60)
    assert "lock:Send-[1]" in await web.page("/locks")
    response = await web.post("/locks/delete", name="lock:Send-[1]")
    assert response.status_code == 303 and response.headers["location"].startswith("/locks")
    assert await web.queue.locks() == {}


# ---------------------------------------------------------------------------- actions


async def test_retry_one_failed_job_puts_it_back_on_its_queue(web: Web) -> None:
    await _fail(web.queue.backend, "Send", [1])
    await _fail(web.queue.backend, "Send", [2])
    (first_id, index), _second = _ids(await web.page("/failed"))
    response = await web.post("/failed/retry", id=first_id, index=index)
    assert response.status_code == 303
    assert [f.payload["args"] for f in await web.queue.failed()] == [[2]]
    assert [j.args for j in await web.queue.queued("mail")] == [[1]]
    assert "1 failed job(s) re-enqueued" in await web.page(response.headers["location"])


async def test_retry_finds_the_record_after_the_list_shifted(web: Web) -> None:
    records = [await _fail(web.queue.backend, "Send", [n]) for n in range(3)]
    (_, _), (second_id, index), *_ = _ids(await web.page("/failed"))
    await web.queue.remove_failed(records[0])  # someone else removed the first one
    await web.post("/failed/retry", id=second_id, index=index)
    assert [j.args for j in await web.queue.queued("mail")] == [[1]]
    assert [f.payload["args"] for f in await web.queue.failed()] == [[2]]


async def test_remove_one_failed_job_and_a_second_click_is_harmless(web: Web) -> None:
    await _fail(web.queue.backend, "Send", [1])
    ((record_id, index),) = _ids(await web.page("/failed"))
    await web.post("/failed/remove", id=record_id, index=index)
    again = await web.post("/failed/remove", id=record_id, index=index)
    assert "done=gone" in again.headers["location"]
    assert await web.queue.failed_count() == 0
    assert await web.queue.length("mail") == 0


async def test_retry_all_and_remove_all(web: Web) -> None:
    for n in range(5):
        await _fail(web.queue.backend, "Send", [n])
    await web.post("/failed/retry-all")
    assert await web.queue.failed_count() == 0
    assert [j.args for j in await web.queue.queued("mail")] == [[n] for n in range(5)]
    for n in range(4):
        await _fail(web.queue.backend, "Send", [n])
    await web.post("/failed/remove-all")
    assert await web.queue.failed_count() == 0


async def test_remove_a_queued_job_and_delete_a_queue(web: Web) -> None:
    await web.queue.enqueue("mail", "Send", [1])
    await web.queue.enqueue("mail", "Send", [2])
    (record_id, index), _ = _ids(await web.page("/queue", name="mail"))
    await web.post("/queue/remove", name="mail", id=record_id, index=index)
    assert [j.args for j in await web.queue.queued("mail")] == [[2]]
    await web.post("/queue/delete", name="mail")
    assert "mail" not in await web.queue.queues()


async def test_remove_a_delayed_job(web: Web) -> None:
    await web.queue.enqueue_at(NOW * 1000 + 60_000, "mail", "Later", [1])
    html = await web.page("/delayed")
    record_id = re.search(r'name="id" value="([0-9a-f]+)"', html)
    assert record_id is not None
    await web.post("/delayed/remove", id=record_id[1], timestamp=int(NOW) + 60)
    assert await web.queue.timestamps() == []


async def test_remove_a_worker_moves_its_job_to_the_failed_list(web: Web) -> None:
    worker = WorkerId("host:1", ("mail",))
    await web.queue.enqueue("mail", "Send", [1])
    await web.queue.backend.register_worker(worker, NOW)
    await web.queue.backend.reserve(["mail"], worker, NOW)
    await web.post("/workers/clean", name="host:1")
    assert await web.queue.workers() == {}
    assert [f.payload["args"] for f in await web.queue.failed()] == [[1]]


# ---------------------------------------------------------------------------- defences


@pytest.mark.memory
async def test_changes_without_a_valid_csrf_token_or_from_another_site_get_403() -> None:
    queue = Queue(await _memory_backend())
    app = create_app(queue, csrf_secret=CSRF, refresh=0)
    record = await _fail(queue.backend, "Send", [1])
    async with _client(app) as client:
        for data, headers in (
            ({}, {}),
            ({"csrf_token": "guess"}, {}),
            ({"csrf_token": CSRF}, {"origin": "http://evil.example"}),
            ({"csrf_token": CSRF}, {"sec-fetch-site": "cross-site"}),
        ):
            response = await client.post("/failed/remove-all", data=data, headers=headers)
            assert response.status_code == 403, (data, headers)
            assert response.text.startswith("refused:")
        assert await queue.failed() and (await queue.failed())[0].raw == record
        ok = await client.post("/failed/remove-all", headers={"x-csrf-token": CSRF})
        assert ok.status_code == 303 and await queue.failed_count() == 0
    await queue.backend.aclose()


@pytest.mark.memory
async def test_a_token_protects_every_page_and_action_but_not_static_files() -> None:
    queue = Queue(await _memory_backend())
    app = create_app(queue, token="s3cret", csrf_secret=CSRF, refresh=0)
    basic = base64.b64encode(b"admin:s3cret").decode()
    async with _client(app) as client:
        for path in ("/", "/failed", "/api/overview"):
            refused = await client.get(path)
            assert refused.status_code == 401 and "Basic" in refused.headers["www-authenticate"]
        wrong = await client.get("/", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "s3cret" not in wrong.text
        post = await client.post("/failed/remove-all", data={"csrf_token": CSRF})
        assert post.status_code == 401
        assert (await client.get("/", headers={"authorization": "Bearer s3cret"})).is_success
        assert (await client.get("/", headers={"authorization": f"Basic {basic}"})).is_success
        assert (await client.get("/static/dashboard.js")).is_success
    await queue.backend.aclose()


@pytest.mark.memory
async def test_an_unknown_host_name_is_refused_against_dns_rebinding() -> None:
    queue = Queue(await _memory_backend())
    app = create_app(queue, refresh=0)
    async with _client(app) as client:
        rebound = await client.get("/", headers={"host": "attacker.example:8080"})
        assert rebound.status_code == 400
        assert (await client.get("/", headers={"host": "localhost:8080"})).is_success
    await queue.backend.aclose()


async def test_payload_markup_renders_as_text_with_strict_headers(web: Web) -> None:
    xss = "<script>window.__xss=1</script>"
    img = '<img src=x onerror="window.__xss=1">'
    await web.queue.enqueue("mail", xss, [img])
    await _fail(web.queue.backend, xss, [img])
    await web.queue.backend.acquire_lock(f"lock:{xss}", img, 60)
    for path, params in (("/", {}), ("/queue", {"name": "mail"}), ("/failed", {}), ("/locks", {})):
        response = await web.client.get(path, params=params)
        assert "<script>window" not in response.text and "<img src=x" not in response.text
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in response.text or path == "/"
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-frame-options"] == "DENY"


async def test_unreadable_records_render_as_text_and_can_be_removed(web: Web) -> None:
    backend = web.queue.backend
    await backend.push("mail", "not json {")
    await backend.push("mail", '{"no":"class"}')
    await backend.push_failure("garbage <b>record</b>")
    await backend.schedule(int(NOW) + 60, "mail", "[1,2")
    queue_html = await web.page("/queue", name="mail")
    assert "unreadable record" in queue_html and "not json {" in queue_html
    failed_html = await web.page("/failed")
    assert "garbage &lt;b&gt;record&lt;/b&gt;" in failed_html and 'class="retry"' not in failed_html
    assert "[1,2" in await web.page("/delayed")
    assert (await web.client.get("/api/overview")).json()["failed"] == 1
    ((record_id, index),) = _ids(failed_html)
    await web.post("/failed/remove", id=record_id, index=index)
    assert await web.queue.failed_count() == 0


@pytest.mark.requires_capability("binary_payloads")
async def test_bytes_that_are_not_utf8_render_escaped(web: Web) -> None:
    raw = b'{"class":"Send","queue":"mail","args":["\xff\xfe"]}'.decode("utf-8", "surrogateescape")
    await web.queue.backend.push("mail", raw)
    await web.queue.backend.push_failure(raw)
    assert "\\xff\\xfe" in await web.page("/queue", name="mail")
    assert "\\xff\\xfe" in await web.page("/failed")


async def _memory_backend() -> Backend:
    backend = drivers.connect_driver(drivers.DRIVERS[0], "web-test")
    await backend.open()
    return backend


# ---------------------------------------------------------------------------- command line


def test_dashboard_refuses_a_public_address_without_a_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TASKCORE_DASHBOARD_TOKEN", raising=False)
    assert main(["dashboard", "--host", "0.0.0.0", "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert "without authentication" in err and "TASKCORE_DASHBOARD_TOKEN" in err
