"""Options shared by several commands, and the Settings and Runtime they build."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from agentlib.config import Settings

if TYPE_CHECKING:
    from agentlib.runtime import Runtime

LibraryOpt = Annotated[Optional[str], typer.Option(
    "--library", help="Library location: a directory or http://HOST:PORT "
                      "[env AGENTLIB_STORE, default ./library_store].")]
LLMOpt = Annotated[Optional[str], typer.Option(
    "--llm", help="LLM backend: local, openai, replay or a plugin's [env AGENTLIB_LLM].")]
ModelOpt = Annotated[Optional[str], typer.Option(
    "--model", help="local: default | small | PATH.gguf; openai: the model name "
                    "[env AGENTLIB_MODEL].")]
BaseURLOpt = Annotated[Optional[str], typer.Option(
    "--base-url", help="openai: endpoint such as http://127.0.0.1:8080/v1.")]


def make_settings(library: str | None = None, llm: str | None = None,
                  model: str | None = None, base_url: str | None = None) -> Settings:
    settings = Settings()
    if library:
        settings.store = library
    if llm:
        settings.llm = llm
    if model:
        settings.model = model
    if base_url:
        settings.base_url = base_url
    return settings


_STARTUP_PM: list[Any] = []  # the plugin manager `main` built to add plugin commands


def use_plugin_manager(pm: Any) -> None:
    """Make every runtime this process builds use `pm` (the one built at start-up)."""
    _STARTUP_PM[:] = [pm]


def make_runtime(settings: Settings | None = None) -> "Runtime":
    """Return the command's runtime: its settings (None: read when first needed) and the
    start-up plugin manager, if one was built."""
    from agentlib.runtime import Runtime

    return Runtime(settings, pm=_STARTUP_PM[0] if _STARTUP_PM else None)


def open_library_at(path: str | None):
    """Open the library at `path` (or the configured one) with the configured embedder."""
    return make_runtime(make_settings(library=path)).open_library()
