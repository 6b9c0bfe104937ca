"""The worker group of the Redis driver (protocol group 5), in node-resque 9's layout.

A worker is a member ``<name>:<queues>`` of the set ``workers``, with ``worker:<member>:started``
(seconds), a ping ``worker:ping:<name>`` and, while it holds a job, the current-job record
``worker:<member>``. Mixed into :class:`~taskcore_redis.backend.RedisBackend`.
"""

from __future__ import annotations

from typing import Any

from redis import exceptions as redis_errors

from taskcore.backend import CurrentJob, FailureFactory, WorkerId, WorkerPing
from taskcore.codec import encode_ping, js_round
from taskcore_redis.access import SCAN_COUNT, RedisAccess, optional_text, text
from taskcore_redis.errors import translate_errors
from taskcore_redis.keys import Keys, glob_escape
from taskcore_redis.records import read_current_job, read_integer, read_ping

__all__ = ["WorkerMethods"]


class WorkerMethods(RedisAccess):
    """Register, ping, list and clean workers and read their current jobs (see
    :class:`taskcore.backend.Backend`)."""

    @translate_errors
    async def register_worker(self, worker: WorkerId, now: float) -> None:
        """One MULTI: SADD ``workers`` member, SET ``worker:<member>:started`` to
        ``round(now)`` seconds, SET the first ping."""
        seconds = js_round(now)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.sadd(self._keys.workers, worker.member)
            pipe.set(self._keys.worker_started(worker.member), seconds)
            pipe.set(self._ping_key(worker), encode_ping(seconds, worker.name, worker.queues_str))
            await pipe.execute()

    def _ping_key(self, worker: WorkerId) -> str:
        return self._keys.worker_ping(worker.name)

    @translate_errors
    async def ping_worker(self, worker: WorkerId, now: float) -> None:
        await self._client.set(
            self._ping_key(worker), encode_ping(js_round(now), worker.name, worker.queues_str)
        )

    @translate_errors
    async def list_workers(self) -> list[WorkerId]:
        members = sorted(text(m) for m in await self._client.smembers(self._keys.workers))
        return [WorkerId.parse(m) for m in members]

    @translate_errors
    async def worker_started(self, worker: WorkerId) -> int | None:
        """None when unknown, and when the stored value is not an integer."""
        raw = await self._client.get(self._keys.worker_started(worker.member))
        return read_integer(optional_text(raw))

    @translate_errors
    async def current_job(self, worker: WorkerId) -> CurrentJob | None:
        """The record as :func:`~taskcore_redis.records.read_current_job` reads it: one that
        cannot be decoded comes back whole, never as an error (MGET: a key of another type
        reads as absent)."""
        (raw,) = await self._client.mget([self._keys.current_job(worker.member)])
        return None if raw is None else read_current_job(text(raw), worker)

    @translate_errors
    async def current_jobs(self) -> dict[WorkerId, CurrentJob | None]:
        """The workers set and every current-job record, read by one script. A record that
        cannot be decoded is returned whole (:func:`~taskcore_redis.records.read_current_job`);
        a record key of another type reads as idle."""
        flat = await self._scripts.current_jobs(keys=[self._keys.workers], args=[self._keys.prefix])
        jobs: dict[WorkerId, CurrentJob | None] = {}
        for i in range(0, len(flat), 2):
            worker = WorkerId.parse(text(flat[i]))
            raw = flat[i + 1]
            jobs[worker] = None if raw is None else read_current_job(text(raw), worker)
        return dict(sorted(jobs.items(), key=lambda item: item[0].member))

    @translate_errors
    async def worker_pings(self) -> list[WorkerPing]:
        """SCAN ``worker:ping:*`` (COUNT 1000) + MGET; registered or not, sorted by name.

        The name is the key's. A ping that cannot be decoded reads as time 0, so the worker is
        stale and the scheduler cleans it (:func:`~taskcore_redis.records.read_ping`)."""
        values = await self._scan_values(Keys.PING_START)
        pings = [
            read_ping(raw, self._keys.strip(key)[len(Keys.PING_START) :])
            for key, raw in values.items()
        ]
        return sorted(pings, key=lambda p: p.name)

    @translate_errors
    async def registered_worker_pings(self) -> list[WorkerPing]:
        """One script reads the workers set and each registered name's ping key: no keyspace
        SCAN, so the cost follows the number of workers, not the number of keys."""
        flat = await self._scripts.registered_pings(
            keys=[self._keys.workers], args=[self._keys.prefix]
        )
        pings = [read_ping(text(flat[i + 1]), text(flat[i])) for i in range(0, len(flat), 2)]
        return sorted(pings, key=lambda p: p.name)

    @translate_errors
    async def clean_worker(self, name: str, failure_for: FailureFactory) -> list[CurrentJob]:
        """WATCH the workers set and the current-job keys, read, build each failure record in
        Python, then one MULTI removes every trace; retried when a watched key changes.

        Unlike node-resque it deletes the real current-job key ``worker:<name>:<queues>`` and
        increments ``failed`` once per job actually failed (never for an idle worker). A record
        that cannot be decoded is failed all the same: ``failure_for`` receives it whole
        (:func:`~taskcore_redis.records.read_current_job`), so no record blocks the clean-up.
        """
        keys = self._keys
        async with self._client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(keys.workers)
                    members = sorted(await self._members_named(pipe, name))
                    current_keys = [keys.current_job(m) for m in members]
                    raws: list[Any] = []
                    if current_keys:
                        await pipe.watch(*current_keys)
                        # MGET by name: a cluster pipeline blocks its mget() method, not the
                        # command (all these keys share the namespace's slot).
                        reply: Any = await pipe.execute_command("MGET", *current_keys)
                        raws = list(reply)
                    jobs = [
                        read_current_job(text(raw), WorkerId.parse(member))
                        for member, raw in zip(members, raws, strict=True)
                        if raw is not None
                    ]
                    records = [failure_for(job) for job in jobs]
                    pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
                    if members:
                        pipe.srem(keys.workers, *members)
                        pipe.delete(
                            *current_keys,
                            *(keys.worker_started(m) for m in members),
                            *(keys.reserve_list(m) for m in members),
                        )
                    pipe.delete(
                        keys.worker_ping(name),
                        keys.stat(f"processed:{name}"),
                        keys.stat(f"failed:{name}"),
                    )
                    if records:
                        pipe.rpush(keys.failed, *records)
                        pipe.incrby(keys.stat("failed"), len(records))
                    await pipe.execute()
                    return jobs
                except redis_errors.WatchError:
                    continue

    async def _members_named(self, pipe: Any, name: str) -> set[str]:
        """The workers-set members whose name is ``name``, by SSCAN MATCH ``<name>:*`` (and
        the bare name): the server filters, so cleaning one worker never transfers or parses
        the whole set. ``pipe`` is a pipeline in WATCH mode, so the reads are watched."""
        found: set[str] = set()
        pattern = glob_escape(name) + ":*"
        cursor: int | str = 0
        while True:
            cursor, chunk = await pipe.sscan(
                self._keys.workers, cursor, match=pattern, count=SCAN_COUNT
            )
            found.update(m for m in map(text, chunk) if WorkerId.parse(m).name == name)
            if int(cursor) == 0:
                break
        if await pipe.sismember(self._keys.workers, name):
            found.add(name)
        return found
