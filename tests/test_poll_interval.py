"""Settings.poll_interval reaches every worker of an App's pool: the interval at which an idle
worker looks for jobs that other producers pushed without waking it."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from taskcore.app import App
from taskcore.config import Settings
from taskcore.errors import ConfigError
from taskcore.tasks import TaskRegistry


async def test_an_apps_workers_poll_at_the_configured_interval() -> None:
    settings = Settings(
        url="memory://poll-interval",
        namespace=f"poll-{uuid.uuid4().hex[:8]}",
        timeout=30.0,
        poll_interval=0.25,
        scheduler=False,
    )
    app = App(settings, TaskRegistry())
    started = asyncio.Event()
    app.on("worker.start", lambda *_: started.set())
    await app.start()
    try:
        await asyncio.wait_for(started.wait(), 10)
        assert app.multi_worker is not None
        (worker,) = app.multi_worker.workers
        assert worker.idle_wait == 0.25  # the in-memory wake-up sees no foreign producer
    finally:
        await app.stop()


def test_poll_interval_defaults_to_the_timeout_and_takes_none_words() -> None:
    assert Settings().poll_interval is None
    assert Settings(poll_interval="none").poll_interval is None
    with pytest.raises(ConfigError, match="poll_interval"):
        Settings(poll_interval=0)
