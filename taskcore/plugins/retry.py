"""Retry: re-schedule a failed job until it has run ``retry_limit`` times in total.

On a failure with attempts left, ``after_perform`` schedules the same job (``enqueue_in``) after
a delay, emits the worker event ``re_enqueue(queue, job, {"delay", "remaining_attempts",
"error"})`` and sets ``context.failure_recorded = False``: the attempt counts as failed (global
and per-worker ``failed`` +1) but writes no failed-list entry and emits no ``failure`` event.
The last attempt's failure goes through as a normal failure, and so does the failure of a copy
whose retry cannot be scheduled because an identical payload is already scheduled at that second
(node-resque dropped such a copy). A success clears the state.
Inline runs (``Worker.perform_inline``, no worker) are not retried: the error reaches the caller.

State, shared with node-resque (same key names, so either implementation continues the count):

* ``resque-retry:<func>:<argsKey>``: attempts so far minus one (the first failure stores 0);
* ``failure-resque-retry:<func>:<argsKey>``: the last error as node-resque's JSON.

Both expire ``ceil(max delay / 1000) + expire_retry_key_after`` **seconds** after the latest
failure: node-resque used the millisecond delay as seconds; a TTL of just the delay would let
the counter vanish before a retry that waited in its queue fails again, retrying forever.

Options: ``retry_limit`` (total attempts, 1), ``retry_delay`` (milliseconds, 5000),
``backoff_strategy`` (a list of millisecond delays, the n-th retry using element n-1 and the
last one after that; None uses ``retry_delay``), ``expire_retry_key_after`` (seconds, 3600).
"""

from __future__ import annotations

import math
import re
import traceback
from datetime import UTC, datetime
from typing import Any, ClassVar

from taskcore import codec
from taskcore.errors import ConfigError
from taskcore.plugins.base import Plugin

__all__ = ["Retry", "args_key"]

_FIRST_WHITESPACE = re.compile(r"\s")


def args_key(args: list[Any]) -> str:
    """node-resque's ``argsKey``: strings raw, everything else as JSON, joined with ``"-"``."""
    return "-".join(a if isinstance(a, str) else codec.dumps(a) for a in args)


def _node_key(name: str) -> str:
    # node-resque strips the first whitespace character only (String.replace with /\s/)
    return _FIRST_WHITESPACE.sub("", name, count=1)


class Retry(Plugin):
    """Retries failed jobs with a delay or a backoff list (see the module docstring)."""

    defaults: ClassVar[dict[str, Any]] = {
        "retry_limit": 1,
        "retry_delay": 5000,
        "backoff_strategy": None,
        "expire_retry_key_after": 3600,
    }

    def _option_ms(self, value: Any, option: str) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(
                f"Retry option {option!r} holds delays in milliseconds >= 0, got {value!r}"
            )
        return value

    def _delays(self) -> list[int | float]:
        strategy = self.options["backoff_strategy"]
        if strategy is None:
            return [self._option_ms(self.options["retry_delay"], "retry_delay")]
        if not isinstance(strategy, list | tuple) or not strategy:
            raise ConfigError(
                "Retry option 'backoff_strategy' is a non-empty list of millisecond delays or "
                f"None, got {strategy!r}"
            )
        return [self._option_ms(d, "backoff_strategy") for d in strategy]

    def _retry_limit(self) -> int:
        limit = self.options["retry_limit"]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"Retry option 'retry_limit' is an int >= 1, got {limit!r}")
        return limit

    def _ttl(self, delays: list[int | float]) -> int:
        margin = self.options["expire_retry_key_after"]
        if isinstance(margin, bool) or not isinstance(margin, int | float) or margin < 0:
            raise ConfigError(
                f"Retry option 'expire_retry_key_after' is seconds >= 0, got {margin!r}"
            )
        return max(1, math.ceil(max(delays) / 1000) + math.ceil(margin))

    @property
    def retry_key(self) -> str:
        """``resque-retry:<func>:<argsKey>`` (no trailing part when there are no args)."""
        key = args_key(self.args)
        return _node_key(f"resque-retry:{self.func}" + (f":{key}" if key.strip() else ""))

    @property
    def failure_key(self) -> str:
        """``failure-resque-retry:<func>:<argsKey>``."""
        return _node_key(f"failure-resque-retry:{self.func}:{args_key(self.args)}")

    def _last_error(self, error: BaseException) -> str:
        text = f"{type(error).__name__}: {error}"
        lines = "".join(traceback.format_exception(error)).rstrip("\n").split("\n")
        failed_at = datetime.fromtimestamp(self.context.queue_api.clock.now(), UTC)
        return codec.dumps(
            {
                "failed_at": failed_at.strftime("%Y/%m/%d %H:%M:%S"),
                "payload": self.args,
                "exception": text,
                "error": text,
                "backtrace": lines,
                "worker": self.func,
                "queue": self.queue,
            }
        )

    async def after_perform(self) -> bool:
        backend = self.context.queue_api.backend
        error = self.error
        if self.context.worker is None:
            # an inline run has no queue to retry on: the error goes to the caller
            return True
        if error is None:
            await backend.release_lock(self.retry_key)
            await backend.release_lock(self.failure_key)
            return True
        limit = self._retry_limit()
        delays = self._delays()
        ttl = self._ttl(delays)
        attempt = await backend.increment_lock(self.retry_key, ttl)
        remaining = limit - attempt - 1
        await backend.set_lock(self.failure_key, self._last_error(error), ttl)
        if remaining <= 0:
            await backend.release_lock(self.retry_key)
            await backend.release_lock(self.failure_key)
            return True
        delay = delays[min(attempt, len(delays) - 1)]
        if not await self.context.queue_api.enqueue_in(
            int(delay), self.queue, self.func, self.args, suppress_duplicate=True
        ):
            # An identical copy is already scheduled at that second (resque keeps one per
            # second): this copy cannot be retried, so its failure is recorded, not dropped.
            return True
        self.context.failure_recorded = False
        worker = self.context.worker
        job = worker.job or codec.Job(self.func, self.queue, list(self.args))
        worker.emit(
            "re_enqueue",
            self.queue,
            job,
            {"delay": delay, "remaining_attempts": remaining, "error": error},
        )
        return True
