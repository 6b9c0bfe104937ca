"""Every Redis key and channel name the driver uses, in one place.

Names follow node-resque 9's ``Connection.key``: the namespace first, then the parts, joined with
``":"``, dropping every part that is empty or only whitespace (so namespace ``""`` gives keys
without a prefix, exactly as node-resque writes them). Nothing else in the driver builds a key,
except the Lua scripts that derive a queue or delayed-list key from stored data; they receive
:attr:`Keys.prefix` and follow the same rule.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["Keys", "glob_escape"]

_GLOB_SPECIALS = re.compile(r"([\\*?\[\]])")


def glob_escape(text: str) -> str:
    """Escape Redis glob metacharacters (``* ? [ ] \\``) so ``text`` matches only itself."""
    return _GLOB_SPECIALS.sub(r"\\\1", text)


class Keys:
    """Key names for one namespace (default ``"resque"``, node-resque's default)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def key(self, *parts: str) -> str:
        """``namespace:part1:part2``, skipping blank parts as node-resque does."""
        return ":".join(p for p in (self.namespace, *parts) if str(p).strip())

    @property
    def prefix(self) -> str:
        """What precedes every key of this namespace: ``"<ns>:"``, or ``""`` for no namespace."""
        return f"{self.namespace}:" if self.namespace.strip() else ""

    def pattern(self, start: str = "") -> str:
        """A SCAN MATCH pattern for keys of this namespace whose rest starts with ``start``."""
        return glob_escape(self.prefix + start) + "*"

    def strip(self, key: str) -> str:
        """The name of ``key`` without the namespace prefix."""
        return key[len(self.prefix) :] if key.startswith(self.prefix) else key

    # -------------------------------------------------------------- queues

    @property
    def queues(self) -> str:
        """Set of known queue names."""
        return self.key("queues")

    def queue(self, queue: str) -> str:
        """List of encoded jobs; RPUSH to enqueue, LPOP to work."""
        return self.key("queue", queue)

    @property
    def pushed_channel(self) -> str:
        """Pub/sub channel taskcore publishes a queue name on after every push into it.

        Channels live apart from keys, so this never collides with data; node-resque neither
        publishes nor listens here.
        """
        return self.key("taskcore", "pushed")

    # -------------------------------------------------------------- delayed jobs

    @property
    def delayed_schedule(self) -> str:
        """Sorted set of due timestamps: member = score = whole unix seconds."""
        return self.key("delayed_queue_schedule")

    @staticmethod
    def delayed_member(timestamp: int) -> str:
        """A ``timestamps:<payload>`` member: ``"delayed:<ts>"``, without the namespace."""
        return f"delayed:{int(timestamp)}"

    def delayed(self, timestamp: int) -> str:
        """List of encoded jobs due at ``timestamp`` (whole unix seconds)."""
        return self.key(self.delayed_member(timestamp))

    def timestamps(self, payload: str) -> str:
        """Set of ``"delayed:<ts>"`` members saying where ``payload`` is scheduled."""
        return self.key("timestamps", payload)

    # -------------------------------------------------------------- workers

    @property
    def workers(self) -> str:
        """Set of ``"<name>:<queues>"`` members."""
        return self.key("workers")

    def current_job(self, member: str) -> str:
        """A worker's current-job record; exists only while it works a job."""
        return self.key("worker", member)

    def worker_started(self, member: str) -> str:
        """When the worker registered, whole unix seconds."""
        return self.key("worker", member, "started")

    def worker_ping(self, name: str) -> str:
        """A worker's heartbeat JSON, keyed by name without queues."""
        return self.key("worker", "ping", name)

    def reserve_list(self, member: str) -> str:
        """A worker's queue list as its step script reads it (``worker_step.lua`` "stored"):
        ``taskcore:reserve:<sha1 of the member>``. taskcore's own key, which node-resque never
        reads; deleted with the worker and expiring on its own (:mod:`taskcore_redis.stepargs`).
        """
        return self.key(
            "taskcore",
            "reserve",
            hashlib.sha1(member.encode("utf-8", "surrogateescape")).hexdigest(),
        )

    PING_START = "worker:ping:"
    """What every ping key's name starts with (after the prefix), for SCAN."""

    # -------------------------------------------------------------- stats, failures, locks

    def stat(self, name: str) -> str:
        """Counter ``name`` (``"processed"``, ``"failed:<worker name>"``, ...)."""
        return self.key("stat", name)

    STAT_START = "stat:"
    """What every counter key's name starts with (after the prefix), for SCAN."""

    @property
    def failed(self) -> str:
        """List of encoded failure records, oldest first."""
        return self.key("failed")

    def lock(self, name: str) -> str:
        """A lock key: ``name`` passed through as given (``"lock:..."``, ``"workerslock:..."``,
        ``"resque_scheduler_leader_lock"``, ``"resque-retry:..."``)."""
        return self.key(name)
