"""taskcore's in-memory driver: the Redis driver's code over an in-process fakeredis server.

Same key layout, same Lua scripts, same one-call-per-job hot path as ``taskcore_redis``, with no
server to run: the embedded default and the test driver. Data lives in this process only.
"""

from __future__ import annotations

from taskcore_memory.backend import MemoryBackend, from_url, server_for

__all__ = ["MemoryBackend", "from_url", "server_for"]
