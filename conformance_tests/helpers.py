"""Small builders shared by the contract tests: payloads, workers, a fixed ``now``."""

from __future__ import annotations

from typing import Any

from taskcore.backend import CurrentJob, WorkerId
from taskcore.codec import encode_failure, encode_job

__all__ = ["NOW", "failure_for", "job", "worker"]

NOW = 1_800_000_000.0
"""A fixed ``now`` (unix seconds, in 2027): far from the wall clock, so a driver that reads its
own clock instead of the ``now`` it was given fails the tests that pin time."""


def job(n: Any = 1, queue: str = "math", class_name: str = "add") -> str:
    """A resque payload ``{"class":"add","queue":"math","args":[n]}``, as the core encodes it."""
    return encode_job(class_name, queue, [n])


def worker(name: str = "host:1", *queues: str) -> WorkerId:
    """A worker id; queues default to ``("math",)``."""
    return WorkerId(name, queues or ("math",))


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
