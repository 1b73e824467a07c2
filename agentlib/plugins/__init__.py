"""The plugin manager (pluggy over the `agentlib` entry-point group), built by a factory."""

from __future__ import annotations

from typing import Any, Callable

import pluggy

from agentlib.errors import PluginError

hookimpl = pluggy.HookimplMarker("agentlib")


def make_plugin_manager(load_entry_points: bool = True) -> pluggy.PluginManager:
    """Build a plugin manager with the built-in plugins and, optionally, installed ones."""
    from agentlib.plugins import builtin, hookspecs

    pm = pluggy.PluginManager("agentlib")
    pm.add_hookspecs(hookspecs)
    pm.register(builtin, name="agentlib.builtin")
    if load_entry_points:
        pm.load_setuptools_entrypoints("agentlib")
    return pm


def _collect(hook: Callable[..., Any], kind: str) -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}

    def register(name: str, factory: Callable[..., Any]) -> None:
        if name in found:
            raise PluginError(f"two plugins register the {kind} {name!r}")
        found[name] = factory

    hook(register=register)
    return found


def llm_factories(pm: pluggy.PluginManager) -> dict[str, Callable[..., Any]]:
    """Return {name: factory(settings)} for every registered LLM backend."""
    return _collect(pm.hook.register_llms, "LLM backend")


def embedder_factories(pm: pluggy.PluginManager) -> dict[str, Callable[..., Any]]:
    """Return {name: factory()} for every registered embedder."""
    return _collect(pm.hook.register_embedders, "embedder")
