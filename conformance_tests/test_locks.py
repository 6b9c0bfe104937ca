"""Locks: NX acquire with TTL, set, renew/release by owner, read, list, counters."""

from __future__ import annotations

import asyncio

import pytest

from taskcore.backend import Backend

__all__ = ["LockContract"]


class LockContract:
    """acquire_lock, set_lock, renew_lock, release_lock, get_lock, lock_ttl, list_locks,
    increment_lock."""

    pytestmark = pytest.mark.asyncio  # also under strict mode, for third-party projects

    async def test_acquire_only_sets_an_absent_lock(self, backend: Backend) -> None:
        assert await backend.acquire_lock("lock:a", "owner-1", 60) is True
        assert await backend.acquire_lock("lock:a", "owner-2", 60) is False
        assert await backend.get_lock("lock:a") == "owner-1"

    async def test_acquire_sets_the_ttl_in_seconds(self, backend: Backend) -> None:
        await backend.acquire_lock("lock:a", "v", 100)
        ttl = await backend.lock_ttl("lock:a")
        assert ttl is not None and 98 <= ttl <= 100

    async def test_absent_lock_reads_as_none(self, backend: Backend) -> None:
        assert await backend.get_lock("lock:none") is None
        assert await backend.lock_ttl("lock:none") is None

    async def test_set_lock_overwrites_and_none_ttl_means_no_expiry(self, backend: Backend) -> None:
        await backend.acquire_lock("lock:a", "old", 60)
        await backend.set_lock("lock:a", "new", None)
        assert await backend.get_lock("lock:a") == "new"
        assert await backend.lock_ttl("lock:a") is None
        await backend.set_lock("lock:a", "newer", 30)
        ttl = await backend.lock_ttl("lock:a")
        assert ttl is not None and 28 <= ttl <= 30
        assert await backend.get_lock("lock:a") == "newer"

    async def test_renew_only_by_the_owner(self, backend: Backend) -> None:
        await backend.acquire_lock("leader", "me", 10)
        assert await backend.renew_lock("leader", "someone-else", 500) is False
        ttl = await backend.lock_ttl("leader")
        assert ttl is not None and ttl <= 10
        assert await backend.renew_lock("leader", "me", 500) is True
        ttl = await backend.lock_ttl("leader")
        assert ttl is not None and 498 <= ttl <= 500
        assert await backend.get_lock("leader") == "me"
        assert await backend.renew_lock("absent", "me", 500) is False
        assert await backend.get_lock("absent") is None

    async def test_release_with_owner_checks_the_value(self, backend: Backend) -> None:
        await backend.acquire_lock("lock:a", "me", 60)
        assert await backend.release_lock("lock:a", "someone-else") is False
        assert await backend.get_lock("lock:a") == "me"
        assert await backend.release_lock("lock:a", "me") is True
        assert await backend.get_lock("lock:a") is None
        assert await backend.acquire_lock("lock:a", "next", 60) is True

    async def test_release_without_owner_deletes_any_value(self, backend: Backend) -> None:
        await backend.acquire_lock("lock:a", "me", 60)
        assert await backend.release_lock("lock:a") is True
        assert await backend.get_lock("lock:a") is None
        assert await backend.release_lock("lock:a") is False

    async def test_list_locks_filters_by_prefix(self, backend: Backend) -> None:
        await backend.acquire_lock("lock:add:math:[1,2]", "1", 60)
        await backend.acquire_lock("lock:add:math:[3]", "2", 60)
        await backend.set_lock("lock:other", "3", None)
        await backend.acquire_lock("resque_scheduler_leader_lock", "4", 60)
        assert await backend.list_locks("lock:add:") == {
            "lock:add:math:[1,2]": "1",
            "lock:add:math:[3]": "2",
        }
        assert await backend.list_locks("lock:") == {
            "lock:add:math:[1,2]": "1",
            "lock:add:math:[3]": "2",
            "lock:other": "3",
        }
        assert await backend.list_locks("nothing:") == {}

    async def test_list_locks_refuses_an_empty_prefix(self, backend: Backend) -> None:
        # On Redis an empty prefix would list every string key (counters, pings) as a lock.
        await backend.increment_stats({"processed": 1})
        with pytest.raises(ValueError, match="prefix"):
            await backend.list_locks("")

    async def test_lock_values_are_byte_exact(self, backend: Backend) -> None:
        value = "é ✓ 日本 /x \\u00e9"
        await backend.set_lock("lock:é", value, 60)
        assert await backend.get_lock("lock:é") == value
        assert await backend.list_locks("lock:") == {"lock:é": value}

    async def test_increment_lock_starts_from_minus_one(self, backend: Backend) -> None:
        assert await backend.increment_lock("retry:attempts", 100) == 0
        assert await backend.increment_lock("retry:attempts", 100) == 1
        assert await backend.increment_lock("retry:attempts", 200) == 2
        ttl = await backend.lock_ttl("retry:attempts")
        assert ttl is not None and 198 <= ttl <= 200
        assert await backend.get_lock("retry:attempts") == "2"

    async def test_a_lock_expires_after_its_ttl(self, backend: Backend) -> None:
        # The one real wait of the suite: TTLs run on the storage server's clock.
        await backend.acquire_lock("lock:short", "v", 1)
        ttl = await backend.lock_ttl("lock:short")
        assert ttl is not None and 0 <= ttl <= 1
        for _ in range(40):
            if await backend.get_lock("lock:short") is None:
                break
            await asyncio.sleep(0.1)
        assert await backend.get_lock("lock:short") is None
        assert await backend.list_locks("lock:") == {}
        assert await backend.acquire_lock("lock:short", "again", 60) is True


class TestLocks(LockContract):
    pass
