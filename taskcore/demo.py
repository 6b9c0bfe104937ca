"""The tasks of ``taskcore demo`` (also runnable: ``taskcore run taskcore.demo:tasks``).

Part of the package (not ``examples/``) so that the demo works from an installed wheel.

Shows one of each kind of job:

* ``add``: a normal async task with validated inputs;
* ``send_welcome_email``: a *sync* task (it runs in a worker thread), on its own queue;
* ``remind``: enqueued with a delay (``enqueue_in``), promoted by the scheduler when due;
* ``heartbeat``: a periodic task (every 2 seconds, one instance in the whole cluster);
* ``charge_card``: fails twice, then succeeds: the Retry plugin re-schedules it;
* ``import_legacy_file``: always fails; after its retries it lands in the failed list;

plus a global middleware (``audit``) that counts every enqueue.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from taskcore.plugins import Plugin
from taskcore.tasks import Middleware, TaskAPI, TaskRegistry

__all__ = ["enqueues", "reset", "scenario", "tasks"]

tasks = TaskRegistry()
enqueues: Counter[str] = Counter()
_attempts: Counter[int] = Counter()


def reset() -> None:
    """Forget the enqueue counts and attempts of an earlier run in this process.

    The counters are module state (the tasks are plain functions); a second demo run in the same
    process would otherwise see ``charge_card`` succeed at once and report summed counts.
    """
    enqueues.clear()
    _attempts.clear()


def _audit(plugin: Plugin) -> bool:
    enqueues[plugin.func] += 1
    return True


tasks.add_middleware(Middleware("audit", is_global=True, post_enqueue=_audit))


@tasks.task(queue="math")
async def add(a: int, b: int = 0) -> int:
    """Add two integers."""
    return a + b


@tasks.task(queue="mail")
def send_welcome_email(to: str, name: str = "friend") -> str:
    """A blocking function: taskcore runs it in a thread so the event loop keeps going."""
    time.sleep(0.05)
    return f"welcome mail for {name} <{to}> sent"


@tasks.task(queue="mail")
async def remind(to: str, about: str) -> str:
    """Sent some seconds after it was enqueued."""
    return f"reminded {to} about {about}"


@tasks.task(frequency=2.0)
async def heartbeat() -> str:
    """Runs every 2 seconds, exactly one instance in the cluster."""
    return "still alive"


class CardDeclined(Exception):
    """The payment provider said no (this time)."""


@tasks.task(
    queue="payments",
    plugins=["Retry"],
    plugin_options={"Retry": {"retry_limit": 3, "retry_delay": 1000}},
)
async def charge_card(order_id: int, cents: int) -> str:
    """Declined on the first two attempts, accepted on the third."""
    _attempts[order_id] += 1
    if _attempts[order_id] < 3:
        raise CardDeclined(f"order {order_id}: card declined (attempt {_attempts[order_id]})")
    return f"order {order_id}: charged {cents / 100:.2f} on attempt {_attempts[order_id]}"


@tasks.task(
    queue="imports",
    plugins=["Retry"],
    plugin_options={"Retry": {"retry_limit": 2, "retry_delay": 1000}},
)
async def import_legacy_file(path: str) -> None:
    """Always fails: after 2 attempts the failure is kept in the failed list."""
    raise FileNotFoundError(f"no such file: {path}")


async def scenario(api: TaskAPI, say: Callable[[str], Any]) -> None:
    """Enqueue the demo's jobs (the periodic heartbeat is booted by the App itself)."""
    for a, b in ((1, 2), (20, 22)):
        await api.enqueue("add", {"a": a, "b": b})
    await api.enqueue("send_welcome_email", {"to": "ada@example.com", "name": "Ada"})
    await api.enqueue_in(2000, "remind", {"to": "ada@example.com", "about": "the demo"})
    say("enqueued remind to run in 2 s (a delayed job)")
    await api.enqueue("charge_card", {"order_id": 42, "cents": 1999})
    await api.enqueue("import_legacy_file", {"path": "/data/legacy.csv"})
    try:
        await api.enqueue("add", {"a": "one", "b": 2})
    except Exception as exc:
        say(f"refused to enqueue add with bad inputs: {exc}")
