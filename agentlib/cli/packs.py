"""`agentlib packs`: list module packs and install them into the library, verified."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agentlib.cli.options import LibraryOpt, make_settings

app = typer.Typer(help="List and install module packs: verified functions shipped by plugins.",
                  no_args_is_help=True)
console = Console()


@app.command("list")
def list_packs(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the module packs that installed plugins provide."""
    from agentlib.cli.options import make_runtime
    from agentlib.library.packs import PackEntry, load_pack

    packs = make_runtime().packs
    rows = []
    for name in sorted(packs):
        entries = load_pack(packs, name)
        functions = [e.name for e in entries if isinstance(e, PackEntry)]
        rows.append({"pack": name, "modules": len(functions), "functions": functions,
                     "malformed": len(entries) - len(functions)})
    if json_out:
        console.print_json(json.dumps(rows))
        return
    if not rows:
        console.print("no module packs installed (e.g. `pip install -e plugins/agentlib-pack-dates`)")
        return
    table = Table()
    for column in ("pack", "modules", "functions"):
        table.add_column(column, overflow="fold")
    for row in rows:
        shown = ", ".join(row["functions"])
        if row["malformed"]:
            shown += f" [red](+{row['malformed']} malformed)[/]"
        table.add_row(row["pack"], str(row["modules"]), shown)
    console.print(table)


@app.command("install")
def install(
    name: Annotated[str, typer.Argument(help="The pack's name, as `agentlib packs list` shows.")],
    library: LibraryOpt = None,
    validators: Annotated[bool, typer.Option(
        "--validators/--no-validators",
        help="Also run the installed validator plugins on each module.")] = True,
) -> None:
    """Verify each module of a pack in the sandbox and add those that pass to the library.

    Exits 1 when any module was rejected (the others are stored).
    """
    from agentlib.cli.options import make_runtime
    from agentlib.library.packs import install_pack

    runtime = make_runtime(make_settings(library=library))
    lib = runtime.open_library()
    with console.status(f"verifying {name} in the sandbox"):
        report = install_pack(lib, runtime.packs, name, limits=runtime.limits,
                              validate=runtime.validate if validators else None)
    for module in report.accepted:
        console.print(f"[green]✓[/] {module}")
    for module in report.unchanged:
        console.print(f"[dim]= {module} (already in the library)[/]")
    for module, reason in report.rejected:
        console.print(f"[red]✗[/] {module}: {reason}", highlight=False)
    console.print(f"{name}: {len(report.accepted)} accepted, {len(report.unchanged)} already "
                  f"in the library, {len(report.rejected)} rejected (library: {lib.location})")
    if report.rejected:
        raise typer.Exit(1)
