"""`agentlib plugins`, and the start-up step that lets installed plugins add CLI commands."""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)
STATUS_STYLE = {"loaded": "green", "failed": "bold red", "disabled": "yellow"}


def plugins(
    all_: Annotated[bool, typer.Option("--all", help="Include the built-in plugins.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List installed plugins: name, version, hooks, status and error."""
    from agentlib.cli.options import make_runtime
    from agentlib.plugins import plugin_records, probe_hooks

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # failures are in the table; no warning on top
        pm = make_runtime(settings=None).pm
        probe_hooks(pm)
    records = [r for r in plugin_records(pm) if all_ or not r.builtin]
    if json_out:
        console.print_json(json.dumps([asdict(r) for r in records]))
        return
    if not records:
        console.print("no plugins installed (see docs/plugins.md; `--all` shows the built-ins)")
        return
    table = Table()
    for column in ("plugin", "distribution", "version", "status", "hooks", "error"):
        table.add_column(column, overflow="fold")
    for record in records:
        style = STATUS_STYLE.get(record.status, "")
        name = record.name + (" (built-in)" if record.builtin else "")
        table.add_row(name, record.distribution, record.version,
                      f"[{style}]{record.status}[/]", ", ".join(record.hooks), record.error)
    console.print(table)


def plugins_requested_off(argv: list[str]) -> bool:
    """Tell whether `--no-plugins` is among the global options (those before the command)."""
    from agentlib.cli.options import OPTION_OF

    args = iter(argv)
    for arg in args:
        if arg == "--no-plugins":
            return True
        if arg in OPTION_OF.values():
            next(args, None)  # its value
        elif not arg.startswith("-"):
            return False
    return False


def add_plugin_commands(app: typer.Typer, argv: list[str]) -> Any:
    """Let installed plugins add their commands to `app` (once per app), unless turned off.

    `--no-plugins` before the command sets AGENTLIB_NO_PLUGINS, so nothing later in this
    process (the agent, the library) loads plugins either. Every registration hook is called
    once here, so a failing plugin is shown now, as one warning on stderr, and skipped.
    Returns the plugin manager it built (None when plugins are off or it ran before), for
    the command's runtime to use.
    """
    from agentlib.plugins import PluginWarning, entry_points_enabled, probe_hooks

    if getattr(app, "agentlib_plugin_commands_added", False):
        return None
    app.agentlib_plugin_commands_added = True  # type: ignore[attr-defined]
    if plugins_requested_off(argv):
        os.environ["AGENTLIB_NO_PLUGINS"] = "1"
    if not entry_points_enabled():
        return None
    from agentlib.runtime import Runtime

    pm = Runtime().pm
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        probe_hooks(pm, app)  # every hook, so any failure shows now
    show_warnings(caught)
    return pm


def show_warnings(caught: list[Any]) -> None:
    """Print plugin warnings as one line each on stderr; pass other warnings on unchanged."""
    from agentlib.plugins import PluginWarning

    for warning in caught:
        if issubclass(warning.category, PluginWarning):
            errors.print(f"[yellow]warning:[/] {warning.message}", highlight=False)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename,
                                 warning.lineno)
