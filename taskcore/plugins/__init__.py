"""Plugins: the hook API, its runner, and the standard resque plugins."""

from __future__ import annotations

from taskcore.plugins.base import (
    HookContext,
    HookName,
    Plugin,
    PluginRef,
    resolve_plugin,
    run_hooks,
)

__all__ = ["HookContext", "HookName", "Plugin", "PluginRef", "resolve_plugin", "run_hooks"]
