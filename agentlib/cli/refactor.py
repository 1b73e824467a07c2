"""`agentlib refactor`: shared helpers, behavioural dedup and pruning of the library."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from agentlib.cli.errors import reports_errors
from agentlib.cli.options import (
    BaseURLOpt,
    LibraryOpt,
    LLMOpt,
    ModelOpt,
    make_runtime,
    make_settings,
    open_library_at,
)

console = Console()

app = typer.Typer(help="Refactor the library: extract shared helpers (the default command), "
                       "merge duplicates, prune unused modules. Never breaks a stored test.")

BudgetOpt = Annotated[int, typer.Option(min=0, help="Clusters to try (one LLM call each).")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Check and show what would change; write nothing.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


@app.callback(invoke_without_command=True)
def refactor(
    ctx: typer.Context,
    budget: BudgetOpt = 3,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    library: LibraryOpt = None,
    llm: LLMOpt = None,
    model: ModelOpt = None,
    base_url: BaseURLOpt = None,
) -> None:
    """Extract shared helpers from clusters of similar modules; keep only verified refactors.

    Each cluster (modules that repeat the same code and are near by embedding) costs one LLM
    call. A proposal is stored, all or nothing, only when every rewritten module and every
    module depending on one passes all its stored tests with the new helper.
    """
    if ctx.invoked_subcommand is None:
        reports_errors(run_refactor)(budget, dry_run, json_out, library, llm, model, base_url)


def run_refactor(budget: int, dry_run: bool, json_out: bool, library: str | None,
                 llm: str | None, model: str | None, base_url: str | None) -> None:
    from agentlib.refactor.run import refactor_library

    runtime = make_runtime(make_settings(library, llm, model, base_url))
    model_llm = runtime.llm()  # a bad backend or model fails before the library opens
    report = refactor_library(runtime.open_library(create=False), model_llm, budget=budget,
                              dry_run=dry_run)
    if json_out:
        console.print_json(json.dumps(report.to_dict()))
        return
    show_report(console, report)


def show_report(console: Console, report) -> None:
    """Print a refactor report: each proposal (in a dry run), the clusters and the totals."""
    if report.dry_run:
        for outcome in report.outcomes:
            if outcome.proposal is not None:
                text = "\n\n".join([outcome.proposal.helper_source.strip()]
                                   + [s.strip() for s in outcome.proposal.rewrites.values()])
                console.print(f"[bold]proposal for {', '.join(outcome.cluster.names)}[/]")
                console.print(Syntax(text, "python", theme="ansi_dark"))
    console.print(_outcomes_table(report))
    console.print(_summary_table(report))


def _outcomes_table(report) -> Table:
    table = Table(title="clusters" + (" (dry run: nothing written)" if report.dry_run else ""))
    for column in ("modules", "helper", "verdict", "lines", "tests passed", "reason"):
        table.add_column(column, overflow="fold")
    for o in report.outcomes:
        verdict = ("[green]stored[/]" if o.committed else "[green]verified[/]") if o.accepted \
            else "[red]rejected[/]"
        table.add_row(", ".join(o.cluster.names), (o.proposal.helper_name if o.proposal else "") or "-",
                      verdict, f"{o.lines_before} → {o.lines_after}" if o.lines_before else "-",
                      f"{o.tests_passed}/{o.tests_run}", o.reason)
    return table


def _summary_table(report) -> Table:
    table = Table(title="refactor", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("modules touched", ", ".join(report.modules_touched) or "none")
    table.add_row("helpers created", ", ".join(report.helpers_created) or "none")
    table.add_row("lines of code", f"{report.lines_before} → {report.lines_after}")
    table.add_row("tests run / passed", f"{report.tests_run} / {report.tests_passed}")
    table.add_row("LLM calls", str(report.llm_calls))
    return table


@app.command("run")
@reports_errors
def run_command(
    budget: BudgetOpt = 3,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    library: LibraryOpt = None,
    llm: LLMOpt = None,
    model: ModelOpt = None,
    base_url: BaseURLOpt = None,
) -> None:
    """Extract shared helpers (the same as `agentlib refactor` with no subcommand)."""
    run_refactor(budget, dry_run, json_out, library, llm, model, base_url)


@app.command("dedup")
@reports_errors
def dedup_command(
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    library: LibraryOpt = None,
) -> None:
    """Merge modules that behave the same: one canonical module, the others thin aliases.

    Modules are compared in the sandbox on their tests' inputs and on inputs generated from
    those; an alias keeps the old name (and its callers) working.
    """
    from agentlib.refactor.dedup import dedup

    merges = dedup(open_library_at(library, create=False), dry_run=dry_run)
    if json_out:
        console.print_json(json.dumps([asdict(m) for m in merges]))
        return
    table = Table(title=f"{len(merges)} group(s) of equal modules"
                  + (" (dry run: nothing written)" if dry_run else ""))
    for column in ("canonical", "aliases", "inputs compared", "stored", "reason"):
        table.add_column(column, overflow="fold")
    for m in merges:
        table.add_row(m.canonical, ", ".join(m.aliases), str(m.inputs_compared),
                      "yes" if m.committed else "no", m.reason)
    console.print(table)


@app.command("prune")
@reports_errors
def prune_command(
    min_tasks: Annotated[int, typer.Option(
        min=1, help="N is at least this many tasks.")] = 5,
    fraction: Annotated[float, typer.Option(
        min=0.0, help="N is at least this fraction of the library's task count.")] = 0.5,
    keep_superseded: Annotated[bool, typer.Option(
        "--keep-superseded", help="Leave superseded versions as they are.")] = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    library: LibraryOpt = None,
) -> None:
    """Prune superseded versions and modules never reused in the last N tasks.

    Pruned records stay in `agentlib lib history` (nothing is deleted). N = max(--min-tasks,
    --fraction x the library's task count). A module other active modules need is kept.
    """
    from agentlib.refactor.prune import prune

    decisions = prune(open_library_at(library, create=False), min_tasks=min_tasks, fraction=fraction,
                      include_superseded=not keep_superseded, dry_run=dry_run)
    if json_out:
        console.print_json(json.dumps([asdict(d) for d in decisions]))
        return
    table = Table(title="prune" + (" (dry run: nothing written)" if dry_run else ""))
    for column in ("module", "id", "was", "pruned", "reason"):
        table.add_column(column, overflow="fold")
    for d in decisions:
        table.add_row(d.name, d.module_id, d.status, "yes" if d.pruned else "no", d.reason)
    console.print(table)


lib_dedup = dedup_command
"""For `agentlib lib dedup`: `lib_app.command("dedup")(lib_dedup)`."""
lib_prune = prune_command
"""For `agentlib lib prune`: `lib_app.command("prune")(lib_prune)`."""
