"""The dashboard driven as a person uses it: a real headless Chromium (Debian's ``chromium`` and
``chromium-driver``, through Selenium 4) against the dashboard served by uvicorn on a loopback
port. Nothing is downloaded: the driver binary is passed to Selenium explicitly.

The dashboard and the test's Queue share one event loop in a background thread (so they share the
in-memory driver's storage); the test calls into it with :meth:`Live.run`. Every wait is on the
DOM (WebDriverWait), never a sleep.

Set ``TASKCORE_DASHBOARD_SCREENSHOTS=<dir>`` to save screenshots of the main pages there (how
``docs/images/dashboard*.png`` are made).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn

from conformance_tests.servers import ensure_installed
from taskcore import codec
from taskcore.backend import WorkerId
from taskcore.clock import SystemClock
from taskcore.queue import LEADER_LOCK, Queue
from taskcore.registry import connect
from taskcore.web import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
XSS_CLASS = "<script>window.__xss=1</script>"
XSS_ARG = '<img src=x onerror="window.__xss=1">'
T = TypeVar("T")

pytestmark = pytest.mark.memory

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as exc:  # a clear failure, not a skip: the dev extra installs selenium
    raise ImportError(f"{exc}: pip install -e '.[dev]' installs selenium") from exc


class Live:
    """The dashboard on a loopback port, and a Queue on the same storage and event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.queue: Queue = self.run(self._open())
        app = create_app(self.queue, refresh=0.3)
        # A socket bound and listening before the server starts: the browser's first request
        # waits in its backlog, so there is nothing to poll for.
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.serving = asyncio.run_coroutine_threadsafe(
            self.server.serve(sockets=[self.sock]), self.loop
        )

    async def _open(self) -> Queue:
        backend = connect("memory://taskcore-browser-test", namespace="browser")
        await backend.open()
        return Queue(backend, clock=SystemClock())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the dashboard's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self) -> None:
        self.server.should_exit = True
        self.serving.result(timeout=30)
        self.run(self.queue.backend.flush())
        self.run(self.queue.backend.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    server = Live()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[WebDriver]:
    try:  # installed with apt-get when missing, as the suite's servers are
        ensure_installed(
            (CHROMIUM, CHROMEDRIVER), ("chromium", "chromium-driver"), "the browser tests"
        )
    except RuntimeError as exc:
        pytest.fail(str(exc))
    profile = tempfile.mkdtemp(prefix="taskcore-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,860",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(chromium: WebDriver, live: Live) -> Iterator[WebDriver]:
    """The browser with a fresh, empty storage for this test."""
    live.run(live.queue.backend.flush())
    chromium.get_log("browser")  # forget earlier tests' console messages
    yield chromium


def wait_for(browser: WebDriver, css: str, text: str | None = None, timeout: float = 10) -> Any:
    """Wait until an element matching ``css`` (containing ``text``) is on the page; return it.
    Tolerates the live refresh swapping the element while it is read."""

    def found(driver: WebDriver) -> Any:
        try:
            for element in driver.find_elements(By.CSS_SELECTOR, css):
                if text is None or text in element.text:
                    return element
        except StaleElementReferenceException:
            return False
        return False

    return WebDriverWait(browser, timeout).until(found, f"no {css!r} with text {text!r}")


def wait_gone(browser: WebDriver, css: str, text: str, timeout: float = 10) -> None:
    def gone(driver: WebDriver) -> bool:
        try:
            return all(text not in e.text for e in driver.find_elements(By.CSS_SELECTOR, css))
        except StaleElementReferenceException:
            return False

    WebDriverWait(browser, timeout).until(gone, f"{css!r} with {text!r} is still shown")


def console_errors(browser: WebDriver) -> list[str]:
    """Errors the page logged: script errors, CSP violations, failed loads."""
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def failure_record(cls: str, args: list[Any], queue: str = "mail") -> str:
    return codec.encode_failure(
        worker="host:1",
        queue=queue,
        payload=codec.encode_job(cls, queue, args),
        exception="SMTPError",
        error="550 mailbox unavailable",
        backtrace=["at send (mail.py:42)", "at perform (jobs.py:12)"],
        failed_at=codec.js_date(SystemClock().now()),
    )


def test_a_job_enqueued_elsewhere_appears_without_reloading(browser: WebDriver, live: Live) -> None:
    browser.get(live.url + "/")
    wait_for(browser, "main", "No queues yet")
    live.run(live.queue.enqueue("mail", "SendWelcome", [{"to": "ada@example.com"}]))
    row = wait_for(browser, 'tr.queue[data-queue="mail"]')
    assert row.find_element(By.CSS_SELECTOR, ".length").text == "1"
    row.find_element(By.LINK_TEXT, "mail").click()
    job = wait_for(browser, "tr.job", "SendWelcome")
    assert "ada@example.com" in job.text
    assert console_errors(browser) == []


def test_retrying_a_failed_job_takes_it_off_the_list(browser: WebDriver, live: Live) -> None:
    live.run(live.queue.backend.push_failure(failure_record("SendWelcome", ["first"])))
    live.run(live.queue.backend.push_failure(failure_record("SendWelcome", ["second"])))
    browser.get(live.url + "/failed")
    first = wait_for(browser, "li.failure", '"first"')
    assert "550 mailbox unavailable" in first.text
    first.find_element(By.CSS_SELECTOR, "button.retry").click()
    wait_for(browser, ".notice", "1 failed job(s) re-enqueued")
    wait_gone(browser, "li.failure", '"first"')
    wait_for(browser, "li.failure", '"second"')
    assert [j.args for j in live.run(live.queue.queued("mail"))] == [["first"]]
    assert live.run(live.queue.failed_count()) == 1
    assert console_errors(browser) == []


def test_markup_in_a_payload_renders_as_inert_text(browser: WebDriver, live: Live) -> None:
    live.run(live.queue.enqueue("mail", XSS_CLASS, [XSS_ARG]))
    live.run(live.queue.backend.push_failure(failure_record(XSS_CLASS, [XSS_ARG])))
    for path, css in (("/queue?name=mail", "tr.job"), ("/failed", "li.failure")):
        browser.get(live.url + path)
        shown = wait_for(browser, css, XSS_CLASS)
        assert XSS_ARG.replace('"', '\\"') in shown.text  # the args are shown as JSON text
        assert browser.execute_script("return window.__xss") is None
        assert browser.find_elements(By.CSS_SELECTOR, "main img, main script") == []
    assert console_errors(browser) == []


def test_the_main_pages_render_without_errors(browser: WebDriver, live: Live) -> None:
    """Every page, populated as in production, loads its script and style under the CSP with no
    console error; the screenshots in docs/ are taken here."""
    queue, backend = live.queue, live.queue.backend
    now = SystemClock().now()
    for n in range(3):
        live.run(queue.enqueue("mail", "SendWelcome", [{"to": f"user{n}@example.com"}]))
    live.run(queue.enqueue("reports", "BuildReport", [{"month": "2026-05"}]))
    live.run(queue.enqueue_in(3_600_000, "reports", "BuildReport", [{"month": "2026-06"}]))
    live.run(backend.push_failure(failure_record("SendWelcome", [{"to": "bad@example"}])))
    worker = WorkerId(f"{socket.gethostname()}:4242+1", ("mail", "reports"))
    live.run(backend.register_worker(worker, now))
    live.run(backend.reserve(["reports"], worker, now - 7))
    live.run(backend.acquire_lock(LEADER_LOCK, f"{socket.gethostname()}:4242", 180))
    live.run(backend.acquire_lock("lock:BuildReport-[]", str(int(now) + 60), 60))
    shots = os.environ.get("TASKCORE_DASHBOARD_SCREENSHOTS")
    for path, css, text, name in (
        ("/", "#health", "Health", "dashboard.png"),
        ("/failed", "li.failure", "bad@example", "dashboard-failed.png"),
        ("/workers", "tr.worker", "BuildReport", "dashboard-workers.png"),
        ("/delayed", "tr.delayed-job", "2026-06", None),
        ("/locks", "tr.lock", "lock:BuildReport", None),
    ):
        browser.get(live.url + path)
        wait_for(browser, css, text)
        assert browser.find_element(By.ID, "live-status").text.startswith("live")
        if shots and name:
            Path(shots).mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(Path(shots) / name))
    assert console_errors(browser) == []
