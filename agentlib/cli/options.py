"""Options shared by several commands, and the Settings and Runtime they build.

`--library`, `--llm`, `--model`, `--base-url` and `--quiet` are accepted before the command
(`agentlib --library X lib list`) as well as after it; `given` is the one place that merges
the two (the command's own option wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from agentlib.config import Settings

if TYPE_CHECKING:
    from agentlib.library.store import Library
    from agentlib.runtime import Runtime

LibraryOpt = Annotated[Optional[str], typer.Option(
    "--library", help="Library location: a directory or http://HOST:PORT "
                      "(env AGENTLIB_STORE, default ./library_store).")]
LLMOpt = Annotated[Optional[str], typer.Option(
    "--llm", help="LLM backend: local, openai, replay or a plugin's (env AGENTLIB_LLM).")]
ModelOpt = Annotated[Optional[str], typer.Option(
    "--model", help="local: default | small | PATH.gguf; openai: the model name "
                    "(env AGENTLIB_MODEL).")]
BaseURLOpt = Annotated[Optional[str], typer.Option(
    "--base-url", help="openai: endpoint such as http://127.0.0.1:8080/v1.")]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress display and no notes on stderr; errors still show.")]

OPTION_OF = {"store": "--library", "llm": "--llm", "model": "--model", "base_url": "--base-url"}
"""The setting each shared option sets."""


@dataclass
class GlobalOptions:
    """The shared options given before the command (None: not given there)."""

    store: str | None = None
    llm: str | None = None
    model: str | None = None
    base_url: str | None = None
    quiet: bool = False


_GLOBAL: list[GlobalOptions] = []  # set by the root command, forgotten when it returns


def set_global_options(options: GlobalOptions) -> None:
    """Record the options given before the command (the root callback does)."""
    _GLOBAL[:] = [options]


def forget_global_options() -> None:
    """Drop them when the invocation ends (a test may invoke the app many times)."""
    _GLOBAL.clear()


def global_options() -> GlobalOptions:
    """The options given before the command in this invocation (none outside the CLI)."""
    return _GLOBAL[0] if _GLOBAL else GlobalOptions()


def given(library: str | None = None, llm: str | None = None, model: str | None = None,
          base_url: str | None = None) -> dict[str, str]:
    """Return {setting: value} of the shared options given, after or else before the command."""
    outer = global_options()
    values = {"store": library or outer.store, "llm": llm or outer.llm,
              "model": model or outer.model, "base_url": base_url or outer.base_url}
    return {name: value for name, value in values.items() if value}


def is_quiet(own: bool = False) -> bool:
    """Whether `--quiet` was given, after or before the command."""
    return own or global_options().quiet


def make_settings(library: str | None = None, llm: str | None = None,
                  model: str | None = None, base_url: str | None = None) -> Settings:
    settings = Settings()
    for name, value in given(library, llm, model, base_url).items():
        setattr(settings, name, value)
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


def open_library_at(path: str | None, *, create: bool = True) -> "Library":
    """Open the library at `path` (or the configured one) with the configured embedder.

    Read-only commands pass `create=False`: a location that holds no library is an error,
    not a new empty library.
    """
    return make_runtime(make_settings(library=path)).open_library(create=create)
