"""The taskcore web dashboard (optional extra ``taskcore[web]``: Starlette, uvicorn, Jinja2).

::

    taskcore dashboard --url redis://localhost:6379/0          # http://127.0.0.1:8080

or embedded in your own ASGI app with :func:`create_app` (pass an open Queue). It reads and
changes storage only through :class:`~taskcore.queue.Queue` and the Backend API, so it works on
every driver. See ``docs/operations.md`` for the security model.

``create_app`` and ``serve`` are imported on first use, so ``taskcore.web.options`` (used by the
CLI) loads without the extra installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskcore.web.app import create_app
    from taskcore.web.server import serve

__all__ = ["create_app", "serve"]

_HOMES = {"create_app": "taskcore.web.app", "serve": "taskcore.web.server"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'taskcore.web' has no attribute {name!r}")
    try:
        module = importlib.import_module(home)
    except ImportError as exc:
        raise ImportError(
            f"the taskcore dashboard needs its optional dependencies ({exc.name} is missing): "
            "pip install 'taskcore[web]'"
        ) from exc
    return getattr(module, name)
