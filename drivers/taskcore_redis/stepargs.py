"""The constant part of a worker's ``worker_step.lua`` call, built once per worker.

A worker calls the step script once per job with the same worker keys, queue keys, JSON-encoded
name and queues: :class:`StepArgs` builds them once per ``(worker, queues)`` and keeps the
values that change once per second (the JS date of ``run_at`` and the ping) until the second
changes, so the hot path only assembles lists. The cache is bounded (a wildcard worker's queue
list changes as queues come and go).

A list of more than :data:`INLINE_MAX` queues is not sent on every call: the script reads it
from a key of the worker's (``worker_step.lua`` "stored" mode), written once by a "store" call
when the key is missing, expired or holds another list (its stamp, a digest of the names,
differs). So a call's size does not grow with the number of queues.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from taskcore.backend import WorkerId
from taskcore.codec import dumps, encode_ping, js_date, js_round
from taskcore_redis.keys import Keys

__all__ = ["INLINE_MAX", "LIST_TTL", "StepArgs", "StepCache"]

_MAX_ENTRIES = 256

INLINE_MAX = 8
"""Queue lists up to this long travel in each call; longer ones are stored server-side."""

LIST_TTL = 86_400
"""Seconds a stored queue list lives after it was written (a worker that is never cleaned
leaves nothing behind for longer); a step that finds it gone sends it again."""


@dataclass(slots=True)
class StepArgs:
    """Keys and encoded arguments of one worker's step over one queue list."""

    head_keys: list[str]
    """current-job, failed, workers, started and ping keys."""
    queue_keys: list[str]
    """The keys after the stat counters: the queue lists, or the stored list's key."""
    name_json: str
    queue_args: list[str]
    """The arguments after the worker name: the mode ("inline" or "stored") and its values."""
    worker: WorkerId
    stat_keys: dict[str, str] = field(default_factory=dict)
    store_keys: list[str] | None = None
    """For a stored list: the keys of the call that (re)writes it, then reserves."""
    store_args: list[str] | None = None
    _ping: tuple[int, str] = (-1, "")

    def ping(self, seconds: int) -> str:
        """The worker's ping JSON at ``seconds`` (encoded once per second)."""
        if self._ping[0] != seconds:
            self._ping = (seconds, encode_ping(seconds, self.worker.name, self.worker.queues_str))
        return self._ping[1]


class StepCache:
    """:class:`StepArgs` per ``(worker, queues)``, and the JS date JSON per second."""

    def __init__(self, keys: Keys) -> None:
        self._keys = keys
        self._entries: dict[tuple[str, tuple[str, ...]], StepArgs] = {}
        self._date: tuple[int, str] = (-1, "")

    def args(self, worker: WorkerId, queues: Sequence[str]) -> StepArgs:
        """The constant keys and arguments for ``worker`` reserving over ``queues``."""
        key = (worker.member, tuple(queues))
        found = self._entries.get(key)
        if found is None:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            keys, member = self._keys, worker.member
            queue_keys = [keys.queue(q) for q in queues]
            names = [dumps(q) for q in queues]
            found = StepArgs(
                head_keys=[
                    keys.current_job(member),
                    keys.failed,
                    keys.workers,
                    keys.worker_started(member),
                    keys.worker_ping(worker.name),
                ],
                queue_keys=queue_keys,
                name_json=dumps(worker.name),
                queue_args=["inline", *names] if queues else [],
                worker=worker,
            )
            if len(queues) > INLINE_MAX:
                stored = keys.reserve_list(member)
                stamp = hashlib.sha1(
                    "\n".join(names).encode("utf-8", "surrogateescape")
                ).hexdigest()
                count = str(len(queues))
                found.queue_keys, found.queue_args = [stored], ["stored", stamp, count]
                found.store_keys = [stored, *queue_keys]
                found.store_args = ["store", stamp, count, str(LIST_TTL), *names]
            self._entries[key] = found
        return found

    def stat_key(self, args: StepArgs, name: str) -> str:
        """``stat:<name>``'s key, built once per worker and counter."""
        key = args.stat_keys.get(name)
        if key is None:
            key = args.stat_keys[name] = self._keys.stat(name)
        return key

    def date_json(self, now: float) -> str:
        """``dumps(js_date(now))``, encoded once per second."""
        second = math.floor(now)
        if self._date[0] != second:
            self._date = (second, dumps(js_date(now)))
        return self._date[1]

    @staticmethod
    def seconds(now: float) -> int:
        """The ping's whole seconds (JS ``Math.round``)."""
        return js_round(now)
