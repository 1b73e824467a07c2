"""The command line: a thin typer boundary; the only place that prints or exits."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from agentlib.cli import lib as lib_commands
from agentlib.cli import models as model_commands
from agentlib.cli.solve import solve

app = typer.Typer(
    name="agentlib",
    help="Grow a library of verified Python functions: solve tasks with a local LLM, "
         "validate in a sandbox, store and reuse what passed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(solve)
app.add_typer(lib_commands.app, name="lib")
app.add_typer(model_commands.app, name="models")


def _version(value: bool) -> None:
    if value:
        from agentlib import __version__

        typer.echo(f"agentlib {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show Python tracebacks for errors.")] = False,
) -> None:
    if debug:
        os.environ["AGENTLIB_DEBUG"] = "1"


def main() -> None:
    """Run the CLI; agentlib's own errors become one message on stderr and exit code 1."""
    from agentlib.errors import AgentlibError

    try:
        app(standalone_mode=True)
    except AgentlibError as exc:
        if os.environ.get("AGENTLIB_DEBUG"):
            raise
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
