"""Which queues a worker works, in which order: its configured list, or ``"*"`` for all.

A worker reserves over an ordered list of queue names (first non-empty wins). Given as
``"*"`` it works every queue :meth:`~taskcore.backend.Backend.list_queues` reports, except
another App's private queues.
"""

from __future__ import annotations

from collections.abc import Sequence

from taskcore.backend import Backend
from taskcore.errors import ConfigError
from taskcore.queue import NODE_QUEUE_PREFIX

__all__ = ["parse_queues", "queues_to_work"]


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
    """``queues`` as a list, or for the wildcard (None) every queue in ``backend`` now,
    without the private queues of other Apps (scope "all" copies: never ours to work)."""
    if queues is not None:
        return list(queues)
    return [q for q in await backend.list_queues() if not q.startswith(NODE_QUEUE_PREFIX)]
