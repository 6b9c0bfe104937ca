"""Noop: a failing job is logged and then counted as a success, never written to the failed list.

Options: ``logger``, a callable given the exception (sync or async); without it the error is
logged at ERROR level on the ``taskcore.plugins.noop`` logger.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, ClassVar

from taskcore.plugins.base import Plugin

__all__ = ["Noop"]

_log = logging.getLogger(__name__)


class Noop(Plugin):
    """Swallows job errors after logging them (see the module docstring)."""

    defaults: ClassVar[dict[str, Any]] = {"logger": None}

    async def after_perform(self) -> bool:
        error = self.error
        if error is None:
            return True
        logger = self.options["logger"]
        if callable(logger):
            outcome = logger(error)
            if inspect.isawaitable(outcome):
                await outcome
        else:
            _log.error(
                "job %s on queue %s failed; the Noop plugin counts it as a success",
                self.func,
                self.queue,
                exc_info=error,
            )
        self.error = None
        return True
