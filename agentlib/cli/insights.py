"""`agentlib insights`: the experience library of lessons learned from failures."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from agentlib.cli.options import (
    BaseURLOpt,
    LibraryOpt,
    LLMOpt,
    ModelOpt,
    make_settings,
    open_library_at,
)
from agentlib.errors import StoreError, TaskFormatError

app = typer.Typer(help="List, show, remove, export, import and evolve insights.",
                  no_args_is_help=True)
console = Console()


@app.command("list")
def list_insights(
    taxonomy: Annotated[Optional[str], typer.Option(
        help="Only insights whose taxonomy starts with this, e.g. strings/parsing.")] = None,
    library: LibraryOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List insights with their counters (retrieved / helped / misled)."""
    insights = [i for i in open_library_at(library, create=False).insights.list()
                if not taxonomy or i.taxonomy.startswith(taxonomy.strip("/"))]
    if json_out:
        console.print_json(json.dumps([asdict(i) for i in insights]))
        return
    table = Table(title=f"{len(insights)} insight(s)")
    for column in ("id", "taxonomy", "condition", "shown", "helped", "misled"):
        table.add_column(column, overflow="fold")
    for i in insights:
        table.add_row(i.id, i.taxonomy, i.condition, str(i.retrieved), str(i.helped),
                      str(i.misled))
    console.print(table)


@app.command("show")
def show(insight_id: Annotated[str, typer.Argument(help="Insight id.")],
         library: LibraryOpt = None) -> None:
    """Show one insight in full, with its lineage."""
    insight = open_library_at(library, create=False).insights.get(insight_id)
    if insight is None:
        raise StoreError(f"no insight {insight_id!r}; see `agentlib insights list`")
    for key, value in asdict(insight).items():
        console.print(f"[bold]{key}[/]: {value}", highlight=False)


@app.command("rm")
def remove(insight_id: Annotated[str, typer.Argument(help="Insight id.")],
           library: LibraryOpt = None) -> None:
    """Remove an insight."""
    lib = open_library_at(library, create=False)
    if lib.insights.get(insight_id) is None:
        raise StoreError(f"no insight {insight_id!r}; see `agentlib insights list`")
    lib.insights.remove(insight_id)
    console.print(f"removed {insight_id}")


@app.command("export")
def export(file: Annotated[Path, typer.Argument(help="JSON Lines file to write.")],
           library: LibraryOpt = None) -> None:
    """Write every insight (counters and lineage included) as JSON Lines."""
    from agentlib.cli.lib import check_output_file

    check_output_file(file)
    insights = open_library_at(library, create=False).insights.list()
    with file.open("w", encoding="utf-8") as fh:
        for insight in insights:
            fh.write(json.dumps(asdict(insight), ensure_ascii=False) + "\n")
    console.print(f"{len(insights)} insight(s) → {file}")


@app.command("import")
def import_(file: Annotated[Path, typer.Argument(help="JSON Lines file from `export`.")],
            library: LibraryOpt = None) -> None:
    """Add the insights of an exported file (an insight already present is skipped)."""
    from agentlib.model import Insight

    lib = open_library_at(library)
    added = 0
    with file.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                insight = Insight(**json.loads(line))
            except (ValueError, TypeError) as exc:
                raise TaskFormatError(f"{file}:{number}: not an exported insight ({exc})") from None
            before = lib.insights.count()
            lib.insights.add(insight)
            added += lib.insights.count() > before
    console.print(f"{added} insight(s) added from {file}")


@app.command("evolve")
def evolve(
    min_shown: Annotated[int, typer.Option(min=1, help="Only insights shown this often.")] = 2,
    dry_run: Annotated[bool, typer.Option(help="Say what would change; write nothing.")] = False,
    library: LibraryOpt = None,
    llm: LLMOpt = None,
    model: ModelOpt = None,
    base_url: BaseURLOpt = None,
) -> None:
    """Refine (or retire) insights that misled more often than they helped."""
    from agentlib.cli.options import make_runtime
    from agentlib.refactor.evolve import evolve_insights

    settings = make_settings(library, llm, model, base_url)
    runtime = make_runtime(settings)
    model_llm = runtime.llm()  # a bad backend or model fails before the library opens
    actions = evolve_insights(runtime.open_library(create=False), model_llm, min_shown=min_shown,
                              max_distance=settings.insight_max_distance, dry_run=dry_run)
    if not actions:
        console.print("no insight misleads more than it helps")
        return
    for action in actions:
        console.print(f"{action.action:8} {action.insight_id} [{action.taxonomy}] "
                      f"{action.detail}", highlight=False)
