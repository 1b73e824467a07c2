"""The library: verified modules in Chroma, found by embedding, served with their dependencies."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentlib.config import Settings
    from agentlib.library.store import Library


def open_library(settings: "Settings", pm=None, *, check_embedder: bool = True) -> "Library":
    """Open the library named by `settings.store` with the configured embedder.

    `check_embedder=False` opens a library embedded by another model (to reindex it).
    """
    from agentlib.errors import StoreError
    from agentlib.library.store import Library
    from agentlib.plugins import embedder_factories, make_plugin_manager

    factories = embedder_factories(pm or make_plugin_manager())
    if settings.embedder not in factories:
        raise StoreError(f"unknown embedder {settings.embedder!r}; "
                         f"available: {', '.join(sorted(factories))}")
    return Library(settings.store, factories[settings.embedder](),
                   check_embedder=check_embedder)
