"""Which queues a worker works, in which order: its configured list, or ``"*"`` for all.

A worker reserves over an ordered list of queue names (first non-empty wins). Given as
``"*"`` it works every queue :meth:`~taskcore.backend.Backend.list_queues` reports, except
another App's private queues. Over more than :data:`WILDCARD_ALL_KNOWN_UP_TO` known queues it
reserves from the ones holding jobs when it lists them
(:meth:`~taskcore.backend.Backend.queues_with_jobs`), so a reserve costs the same with 5,000
known queues as with 5; the worker lists again after every idle cycle, when its list runs dry
and every ``timeout`` seconds while busy (:class:`~taskcore.worker.Worker`).
"""

from __future__ import annotations

from collections.abc import Sequence

from taskcore.backend import Backend
from taskcore.errors import ConfigError
from taskcore.queue import NODE_QUEUE_PREFIX

__all__ = ["WILDCARD_ALL_KNOWN_UP_TO", "parse_queues", "queues_to_work"]

WILDCARD_ALL_KNOWN_UP_TO = 100
"""Up to this many known queues a wildcard worker reserves over all of them (an empty queue
costs a reserve next to nothing: ~0.2 us on Redis, one index probe on PostgreSQL), so a job
pushed to any of them while the worker is busy is seen at its next reserve. Past it, over the
queues that held jobs when it listed them."""


def parse_queues(queues: Sequence[str] | str) -> tuple[str, ...] | None:
    """The ordered queue names, or None for the wildcard (``"*"``, ``["*"]`` or ``[]``).

    Raises :class:`~taskcore.errors.ConfigError` for an empty name or ``"*"`` among names.
    """
    if isinstance(queues, str):
        queues = [queues]  # a plain string is ONE queue (node-resque iterated its characters)
    names = tuple(queues)
    if not names or names == ("*",):
        return None
    if "*" in names or not all(isinstance(q, str) and q for q in names):
        raise ConfigError(
            f"queues={list(names)!r}: give non-empty queue names in priority order, "
            'or "*" alone for every queue'
        )
    return names


async def queues_to_work(backend: Backend, queues: tuple[str, ...] | None) -> list[str]:
    """``queues`` as a list, or for the wildcard (None) every queue in ``backend`` now (past
    :data:`WILDCARD_ALL_KNOWN_UP_TO` known queues, those holding jobs now), without the
    private queues of other Apps (scope "all" copies: never ours to work)."""
    if queues is not None:
        return list(queues)
    listed = await backend.queues_with_jobs(all_up_to=WILDCARD_ALL_KNOWN_UP_TO)
    return [q for q in listed if not q.startswith(NODE_QUEUE_PREFIX)]
