"""`agentlib lib`: look into the library."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from agentlib.cli.options import LibraryOpt, make_settings
from agentlib.errors import StoreError

app = typer.Typer(help="List, show and search the library's modules.", no_args_is_help=True)
console = Console()


def _library(path: str | None):
    from agentlib.library import open_library

    return open_library(make_settings(library=path))


@app.command("list")
def list_modules(
    library: LibraryOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the active modules."""
    modules = _library(library).list()
    if json_out:
        console.print_json(json.dumps([m.to_dict() for m in modules]))
        return
    from agentlib.cli.render import modules_table

    console.print(modules_table(modules))


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Module name (or id).")],
    library: LibraryOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one module: source, tests, dependencies, provenance and counters."""
    lib = _library(library)
    module = lib.get(name) or lib.get_by_id(name)
    if module is None:
        raise StoreError(f"no module named {name!r} in {lib.location}; see `agentlib lib list`")
    if json_out:
        console.print_json(json.dumps(module.to_dict()))
        return
    from agentlib.cli.render import render_module

    render_module(console, module)


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="What you are looking for, in words.")],
    k: Annotated[int, typer.Option("-k", min=1, help="How many results.")] = 5,
    library: LibraryOpt = None,
) -> None:
    """Find modules by meaning (embedding search)."""
    from rich.table import Table

    table = Table(title=f"nearest to {query!r}")
    for column in ("distance", "name", "signature", "task"):
        table.add_column(column, overflow="fold")
    for module, distance in _library(library).search(query, k):
        table.add_row(f"{distance:.3f}", module.name, module.signature, module.task_prompt[:80])
    console.print(table)
