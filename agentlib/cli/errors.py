"""The one place where agentlib's own errors become a message on stderr and exit code 1."""

from __future__ import annotations

import functools
import os
from typing import Any, Callable

import typer


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn agentlib's own errors into one message on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from agentlib.errors import AgentlibError

        try:
            return command(*args, **kwargs)
        except (AgentlibError, OSError) as exc:  # OSError: a path the user gave, permissions
            if os.environ.get("AGENTLIB_DEBUG"):
                raise
            from rich.console import Console
            from rich.markup import escape

            Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}",
                                       highlight=False)
            raise typer.Exit(1) from None

    return wrapper
