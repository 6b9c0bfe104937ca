"""The Redis driver: :class:`RedisBackend` on ``redis.asyncio``, in node-resque 9's key layout.

A node-resque 9 process and a taskcore process on the same server and namespace read and work
each other's jobs, delayed jobs, workers, stats, failures and locks. Every key name is in
:mod:`taskcore_redis.keys`; every multi-key step is one Lua script (``scripts/``) or one
MULTI/EXEC, so each method is atomic on its own. Payloads are stored and returned byte for byte.

node-resque's known bugs are not copied: cleaning a worker deletes its real current-job key and
counts ``failed`` only for a job that was actually failed; timestamps sort numerically; removing
a delayed job leaves no empty list or zset member behind; key enumeration uses ``COUNT 1000``.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from taskcore.backend import (
    Backend,
    Capabilities,
    Outcome,
    Reservation,
    WakeUp,
    WorkerId,
)
from taskcore.codec import dumps
from taskcore.errors import BackendError, ConfigError, InvalidArgument
from taskcore.urls import check_url
from taskcore_redis.access import SCAN_COUNT, optional_text, text, with_text_defaults
from taskcore_redis.dedicated import DedicatedStep
from taskcore_redis.delayed import DelayedMethods
from taskcore_redis.errors import translate_errors
from taskcore_redis.keys import Keys
from taskcore_redis.lua import Scripts
from taskcore_redis.records import read_integer
from taskcore_redis.stepargs import StepCache
from taskcore_redis.wakeup import PushListener
from taskcore_redis.workers import WorkerMethods

__all__ = ["RedisBackend", "from_url"]

_ANCHORS = 5
"""Records of a failed-list page its cursor keeps, to find its place again."""


class RedisBackend(DelayedMethods, WorkerMethods, Backend):
    """Storage on a Redis server (or anything speaking its protocol with Lua).

    ``client`` is injected; the backend closes it on :meth:`aclose` only when ``owns_client``.
    It may be created with or without ``decode_responses``; create it with
    ``encoding_errors="surrogateescape"`` (as :func:`from_url` does) so that values holding
    bytes that are not UTF-8 are read and matched losslessly. ``namespace`` prefixes every key
    (``"resque"`` is node-resque's default; ``""`` writes keys without a prefix).
    ``description`` is what :attr:`server` shows in messages (default: the client's address).
    With ``keyspace_notifications`` (the default) idle workers are also woken by the server's
    keyspace events for queue lists when the server publishes them, so jobs pushed by other
    producers (node-resque, resque) start at once (:mod:`taskcore_redis.wakeup`).
    """

    capabilities: ClassVar[Capabilities] = Capabilities(
        resque_wire_format=True,
        shared_across_processes=True,
        enqueue_notifications=True,
        single_call_complete_and_reserve=True,
        binary_payloads=True,
    )

    def __init__(
        self,
        client: Redis,
        *,
        namespace: str = "resque",
        owns_client: bool = False,
        keyspace_notifications: bool = True,
        description: str | None = None,
    ) -> None:
        self.namespace = namespace
        self._client = client
        self._description = description
        self._owns_client = owns_client
        self._keys = Keys(namespace)
        self._scripts = Scripts(client)
        self._step_cache = StepCache(self._keys)
        self._dedicated: DedicatedStep | None = None  # set on a worker channel only
        self._listener = PushListener(
            client,
            self._keys.pushed_channel,
            queue_prefix=self._keys.prefix + "queue:" if keyspace_notifications else None,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.server} namespace={self.namespace!r}>"

    @property
    def client(self) -> Redis:
        """The redis-py client (read-only), for tools and wire-format tests."""
        return self._client

    @property
    def keys(self) -> Keys:
        """This backend's key names."""
        return self._keys

    # ------------------------------------------------------------------ 1. lifecycle

    @translate_errors
    async def open(self) -> None:
        """Check the server answers. Scripts load on first use (EVALSHA, falling back to EVAL)."""
        await self._client.ping()

    @translate_errors
    async def aclose(self) -> None:
        """Stop the notification listener; close the client if this backend owns it."""
        await self._listener.aclose()
        if self._owns_client:
            await self._client.aclose()

    @translate_errors
    async def ping(self) -> None:
        await self._client.ping()

    @translate_errors
    async def server_time(self) -> float:
        """Redis ``TIME``: the server's clock, unix seconds with microseconds."""
        seconds, micros = await self._client.time()
        return int(seconds) + int(micros) / 1_000_000

    # ------------------------------------------------------------------ 2. queues

    @translate_errors
    async def push(self, queue: str, payload: str, *, front: bool = False) -> None:
        """SADD queues, RPUSH (LPUSH when ``front``) and PUBLISH, in one script."""
        await self._scripts.push(
            keys=[self._keys.queues, self._keys.queue(queue)],
            args=[
                queue,
                payload,
                "1" if front else "0",
                self._keys.pushed_channel,
                await self._publish_command(),
            ],
        )

    @translate_errors
    async def push_many(self, jobs: Sequence[tuple[str, str]]) -> None:
        """RPUSH every job, SADD each queue once and PUBLISH once per queue: one script, after
        checking every key's type, so a batch is written whole or not at all."""
        if not jobs:
            return
        args: list[str] = [self._keys.pushed_channel, await self._publish_command()]
        for queue, payload in jobs:
            args += (queue, payload)
        await self._scripts.push_many(
            keys=[self._keys.queues, *(self._keys.queue(queue) for queue, _ in jobs)], args=args
        )

    async def _step(
        self, worker: WorkerId, outcome: Outcome | None, queues: Sequence[str], now: float
    ) -> Reservation | None:
        """One ``worker_step.lua`` call: complete (when ``outcome``), then reserve.

        A reserve attempt (``queues`` non-empty) re-registers a worker missing from the
        workers set, with a ping at ``now``, in the same script (:meth:`reserve`)."""
        deltas = outcome.stat_deltas(worker.name) if outcome is not None else {}
        record = outcome.failure_record if outcome is not None else None
        cache = self._step_cache
        const = cache.args(worker, queues)
        seconds = cache.seconds(now)
        keys = [*const.head_keys, *(cache.stat_key(const, name) for name in deltas)]
        args: list[str | int] = [
            "1" if outcome is not None else "0",
            len(deltas),
            record or "",
            worker.member,
            seconds,
            const.ping(seconds) if queues else "",
            *deltas.values(),
            cache.date_json(now),
            const.name_json,
        ]
        head, fixed = len(keys), len(args)
        keys += const.queue_keys
        args += const.queue_args
        result = await self._call_step(keys, args)
        if result is not None and int(result[0]) == 0 and const.store_args is not None:
            # The stored queue list is missing or holds another list; nothing of this call
            # was applied: send the list with the same step.
            assert const.store_keys is not None
            result = await self._call_step(
                keys[:head] + const.store_keys, [*args[:fixed], *const.store_args]
            )
        if result is None:
            return None
        index = int(result[0])
        if not 1 <= index <= len(queues):
            raise BackendError(
                f"the Redis step script answered index {index} for a list of {len(queues)} "
                "queues; this is a taskcore bug, please report it"
            )
        return Reservation(queues[index - 1], text(result[1]))

    async def _call_step(self, keys: list[str], args: list[str | int]) -> Any:
        if self._dedicated is not None:
            return await self._dedicated(keys, args)
        return await self._scripts.worker_step(keys=keys, args=args)

    @translate_errors
    async def worker_channel(self) -> RedisBackend:
        """A view of this backend whose step calls (reserve, complete, complete_and_reserve)
        run on one connection held for the calling worker (:mod:`taskcore_redis.dedicated`);
        on a Redis Cluster, this backend itself."""
        if type(self._client) is not Redis:
            return self
        dedicated = DedicatedStep(self._client.connection_pool, self._scripts.worker_step)
        await dedicated.open()
        view = copy.copy(self)
        view._dedicated = dedicated
        return view

    @translate_errors
    async def release_worker_channel(self, channel: Backend) -> None:
        """Close a view's connection."""
        if isinstance(channel, RedisBackend) and channel._dedicated is not None:
            dedicated, channel._dedicated = channel._dedicated, None
            await dedicated.aclose()

    @translate_errors
    async def reserve(
        self, queues: Sequence[str], worker: WorkerId, now: float
    ) -> Reservation | None:
        """LPOP each queue in order and, on the first hit, SET the worker's current-job record
        (``run_at`` = JS date of ``now``, payload embedded raw): one script, one round trip.

        Hit or miss, a worker missing from the workers set (cleaned while alive) is added back
        first, its ``started`` key written if absent and its ping set to ``round(now)``, so
        :meth:`clean_worker` finds whatever it reserves."""
        if not queues:
            return None
        return await self._step(worker, None, queues, now)

    @translate_errors
    async def complete(self, worker: WorkerId, outcome: Outcome) -> None:
        """INCRBY the outcome's counters, RPUSH its failure record, DEL the current-job key."""
        await self._step(worker, outcome, (), 0.0)

    @translate_errors
    async def complete_and_reserve(
        self, worker: WorkerId, outcome: Outcome, queues: Sequence[str], now: float
    ) -> Reservation | None:
        """:meth:`complete` then :meth:`reserve` as one script: one round trip per job."""
        return await self._step(worker, outcome, queues, now)

    @translate_errors
    async def queue_length(self, queue: str) -> int:
        return int(await self._client.llen(self._keys.queue(queue)))

    @translate_errors
    async def queue_range(self, queue: str, start: int, stop: int) -> list[str]:
        return [text(p) for p in await self._client.lrange(self._keys.queue(queue), start, stop)]

    @translate_errors
    async def remove_from_queue(self, queue: str, payload: str, count: int = 0) -> int:
        return int(await self._client.lrem(self._keys.queue(queue), count, payload))

    @translate_errors
    async def list_queues(self) -> list[str]:
        return sorted(text(q) for q in await self._client.smembers(self._keys.queues))

    @translate_errors
    async def queues_with_jobs(self, *, all_up_to: int = 0) -> list[str]:
        """One script (``queues_with_jobs.lua``): the queues set walked on the server. A key
        that is not a list (a foreign write) counts as empty, as LPOP would find no job."""
        found, unsure = await self._scripts.queues_with_jobs(
            keys=[self._keys.queues], args=[self._keys.prefix, all_up_to]
        )
        names = [text(name) for name in found]
        for name in map(text, unsure):  # blank-looking names: keyed by Keys.queue's rule
            with contextlib.suppress(ResponseError):
                if await self._client.llen(self._keys.queue(name)) > 0:
                    names.append(name)
        return sorted(names)

    @translate_errors
    async def delete_queue(self, queue: str) -> int:
        """LLEN, DEL the list and SREM it from the queues set, in one MULTI."""
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.llen(self._keys.queue(queue))
            pipe.delete(self._keys.queue(queue))
            pipe.srem(self._keys.queues, queue)
            length, _, _ = await pipe.execute()
        return int(length)

    @translate_errors
    async def wake_up(self, queues: Sequence[str]) -> WakeUp:
        """A watcher fed by this backend's single pub/sub subscription (opened on first use).

        Pushes by taskcore (push, promote_due, retry_failure) notify within milliseconds. Jobs
        enqueued by node-resque or Ruby resque, which do not publish, wake watchers as fast when
        the server has keyspace notifications for lists on (``notify-keyspace-events Kl``,
        detected; see :mod:`taskcore_redis.wakeup`), and are otherwise found by the caller's
        poll (``poll_interval``) when :meth:`WakeUp.wait` times out.
        """
        return await self._listener.watch(queues)

    # ------------------------------------------------------------------ 4. locks

    @translate_errors
    async def acquire_lock(self, name: str, value: str, ttl: int) -> bool:
        """``SET <ns>:<name> value NX EX ttl``."""
        return bool(await self._client.set(self._keys.lock(name), value, nx=True, ex=ttl))

    @translate_errors
    async def set_lock(self, name: str, value: str, ttl: int | None) -> None:
        await self._client.set(self._keys.lock(name), value, ex=ttl)

    @translate_errors
    async def renew_lock(self, name: str, value: str, ttl: int) -> bool:
        renewed = await self._scripts.renew_lock(keys=[self._keys.lock(name)], args=[value, ttl])
        return bool(renewed)

    @translate_errors
    async def release_lock(self, name: str, value: str | None = None) -> bool:
        released = await self._scripts.release_lock(
            keys=[self._keys.lock(name)],
            args=["0", ""] if value is None else ["1", value],
        )
        return bool(released)

    @translate_errors
    async def get_lock(self, name: str) -> str | None:
        return optional_text(await self._client.get(self._keys.lock(name)))

    @translate_errors
    async def lock_ttl(self, name: str) -> int | None:
        """Redis ``TTL``: -2 (absent) and -1 (no expiry) both read as None."""
        ttl = int(await self._client.ttl(self._keys.lock(name)))
        return ttl if ttl >= 0 else None

    @translate_errors
    async def list_locks(self, prefix: str) -> dict[str, str]:
        """SCAN ``<ns>:<prefix>*`` (COUNT 1000) then MGET in batches; a lock that expires
        between the two is left out."""
        if not prefix:
            raise ValueError("list_locks needs a non-empty lock-name prefix, e.g. 'lock:'")
        values = await self._scan_values(prefix)
        return {self._keys.strip(key): value for key, value in values.items()}

    @translate_errors
    async def increment_lock(self, name: str, ttl: int) -> int:
        return int(await self._scripts.increment_lock(keys=[self._keys.lock(name)], args=[ttl]))

    # ------------------------------------------------------------------ 6. stats and failures

    @translate_errors
    async def increment_stats(self, deltas: Mapping[str, int]) -> None:
        """INCRBY each counter ``stat:<name>``, all in one MULTI (no round trip when empty)."""
        if not deltas:
            return
        async with self._client.pipeline(transaction=True) as pipe:
            for name, delta in deltas.items():
                pipe.incrby(self._keys.stat(name), delta)
            await pipe.execute()

    @translate_errors
    async def stats(self) -> dict[str, int]:
        """SCAN ``stat:*`` (COUNT 1000) + MGET; names without the ``stat:`` prefix.

        A counter whose value is not an integer (written by something else) is left out."""
        values = await self._scan_values(Keys.STAT_START)
        start = len(Keys.STAT_START)
        counters = {self._keys.strip(k)[start:]: read_integer(v) for k, v in values.items()}
        return {name: value for name, value in counters.items() if value is not None}

    @translate_errors
    async def push_failure(self, record: str) -> None:
        await self._client.rpush(self._keys.failed, record)

    @translate_errors
    async def failure_count(self) -> int:
        return int(await self._client.llen(self._keys.failed))

    @translate_errors
    async def failures(self, start: int, stop: int) -> list[str]:
        return [text(r) for r in await self._client.lrange(self._keys.failed, start, stop)]

    @translate_errors
    async def failures_after(self, cursor: str | None, limit: int) -> tuple[list[str], str]:
        """One script (``failures_after.lua``). The cursor is ``<position>:<JSON list>``: the
        position after the last page and that page's last records (up to 5), from which the
        script finds its place again after records before it were removed."""
        position, anchors = _failures_cursor(cursor)
        if limit <= 0:
            return [], cursor or "0:[]"
        reply = await self._scripts.failures_after(
            keys=[self._keys.failed], args=[position, int(limit), *anchors]
        )
        page = [text(r) for r in reply[1]]
        return page, f"{int(reply[0])}:{dumps(page[-_ANCHORS:] if page else anchors)}"

    @translate_errors
    async def remove_failure(self, record: str) -> int:
        return int(await self._client.lrem(self._keys.failed, 1, record))

    @translate_errors
    async def clear_failures(self) -> int:
        """LLEN and DEL of the failed list in one MULTI (node-resque's list, so its tools see
        it empty too)."""
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.llen(self._keys.failed)
            pipe.delete(self._keys.failed)
            length, _ = await pipe.execute()
        return int(length)

    @translate_errors
    async def retry_failure(self, record: str, queue: str, payload: str) -> bool:
        """LREM ``failed`` 1 record; if removed, SADD queues, RPUSH and PUBLISH: one script."""
        retried = await self._scripts.retry_failure(
            keys=[self._keys.failed, self._keys.queues, self._keys.queue(queue)],
            args=[
                record,
                queue,
                payload,
                self._keys.pushed_channel,
                await self._publish_command(),
            ],
        )
        return bool(retried)

    # ------------------------------------------------------------------ 7. maintenance

    @translate_errors
    async def flush(self) -> None:
        """SCAN ``<ns>:*`` (glob characters in the namespace escaped) and UNLINK in batches.

        Keys of a namespace that itself starts with ``"<ns>:"`` (e.g. ``resque:other``) match
        too, as they do for every resque tool. Refuses an empty namespace, whose keys cannot be
        told apart from the rest of the database.
        """
        if not self._keys.prefix:
            raise ConfigError(
                "refusing to flush a Redis backend with an empty namespace: it would delete "
                "every key of the database. Use a namespace, or delete keys yourself."
            )
        batch: list[str | bytes] = []
        async for key in self._scan(""):
            batch.append(key)
            if len(batch) >= SCAN_COUNT:
                await self._client.unlink(*batch)
                batch = []
        if batch:
            await self._client.unlink(*batch)

    # ------------------------------------------------------------------ helpers


def _failures_cursor(cursor: str | None) -> tuple[int, list[str]]:
    """The position and anchor records of a :meth:`RedisBackend.failures_after` cursor."""
    if cursor is None:
        return 0, []
    position, _, anchors_json = cursor.partition(":")
    try:
        anchors = json.loads(anchors_json)
    except ValueError:
        anchors = None
    if (
        not position.isdigit()
        or not isinstance(anchors, list)
        or len(anchors) > _ANCHORS
        or not all(isinstance(a, str) for a in anchors)
    ):
        raise InvalidArgument(
            f"cursor {cursor[:40]!r} is not one failures_after returned; pass None to start over"
        )
    return int(position), anchors


def from_url(url: str, *, namespace: str = "resque", **options: Any) -> RedisBackend:
    """A backend that owns a client for ``url`` (``redis://``, ``rediss://``, ``unix://``).

    ``keyspace_notifications=False`` never uses the server's keyspace events for wake-ups
    (see :class:`RedisBackend`). Other ``options`` go to :func:`redis.asyncio.from_url` (e.g.
    ``socket_timeout``, ``max_connections``); ``decode_responses`` defaults to True and
    ``encoding_errors`` to ``"surrogateescape"``, so a value holding bytes that are not UTF-8
    reads as a ``str`` with lone surrogates and is written back as the same bytes
    (``Capabilities.binary_payloads``).
    Nothing connects until :meth:`RedisBackend.open` or the first call. A URL redis-py would
    misread (no host, port 0 or out of range, a database that is not a number, whitespace) is a
    :class:`~taskcore.errors.ConfigError` naming the part (:func:`taskcore.urls.check_url`).
    """
    check_url(url)
    keyspace_notifications = bool(options.pop("keyspace_notifications", True))
    try:
        client = Redis.from_url(url, **with_text_defaults(options))
    except ValueError as exc:
        raise ConfigError(
            f"invalid Redis URL ({exc}); use redis://[:password@]host[:port][/db], "
            "rediss://... for TLS or unix:///path/to/socket"
        ) from exc
    return RedisBackend(
        client,
        namespace=namespace,
        owns_client=True,
        keyspace_notifications=keyspace_notifications,
    )
