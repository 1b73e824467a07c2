"""`agentlib lib`: look into the library."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from agentlib.cli.options import (
    BaseURLOpt,
    LibraryOpt,
    LLMOpt,
    ModelOpt,
    make_settings,
    open_library_at,
)
from agentlib.errors import StoreError, UsageError

app = typer.Typer(help="Look into, check, export, import and prune the library.",
                  no_args_is_help=True)
console = Console()


@app.command("list")
def list_modules(
    library: LibraryOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the active modules."""
    modules = open_library_at(library, create=False).list()
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
    lib = open_library_at(library, create=False)
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
    insights: Annotated[bool, typer.Option(
        "--insights", help="Search the insights instead of the modules.")] = False,
    library: LibraryOpt = None,
) -> None:
    """Find modules (or insights) by meaning (embedding search)."""
    from rich.table import Table

    lib = open_library_at(library, create=False)
    table = Table(title=f"nearest to {query!r}")
    if insights:
        for column in ("distance", "taxonomy", "condition", "helped", "misled"):
            table.add_column(column, overflow="fold")
        for insight, distance in lib.insights.search(query, k):
            table.add_row(f"{distance:.3f}", insight.taxonomy, insight.condition,
                          str(insight.helped), str(insight.misled))
        console.print(table)
        return
    for column in ("distance", "name", "signature", "task"):
        table.add_column(column, overflow="fold")
    for module, distance in lib.search(query, k):
        table.add_row(f"{distance:.3f}", module.name, module.signature, module.task_prompt[:80])
    console.print(table)


@app.command("history")
def history(
    name: Annotated[str, typer.Argument(help="Module name.")],
    library: LibraryOpt = None,
) -> None:
    """Show every version of a module, oldest first (active, superseded and pruned)."""
    from rich.table import Table

    lib = open_library_at(library, create=False)
    versions = lib.history(name)
    if not versions:
        raise StoreError(f"no module named {name!r} has ever been in {lib.location}")
    table = Table(title=f"history of {name}")
    for column in ("v", "status", "id", "created", "tests", "reused", "task"):
        table.add_column(column, overflow="fold")
    for m in versions:
        table.add_row(str(m.version), m.status, m.id, _when(m.created_at), str(len(m.tests)),
                      str(m.times_reused), m.task_id)
    console.print(table)


def _when(timestamp: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M") \
        if timestamp else "-"


@app.command("rm")
def remove(
    name: Annotated[str, typer.Argument(help="Module name.")],
    force: Annotated[bool, typer.Option(
        "--force", help="Remove it even though other modules depend on it.")] = False,
    library: LibraryOpt = None,
) -> None:
    """Prune a module (its record stays, marked pruned); refused while others need it."""
    broken = open_library_at(library, create=False).remove(name, force=force)
    console.print(f"pruned {name}")
    if broken:
        Console(stderr=True).print(
            f"[yellow]warning:[/] these modules depend on {name} and no longer resolve: "
            f"{', '.join(broken)}", highlight=False)


@app.command("confirm")
def confirm(
    name: Annotated[str, typer.Argument(help="Module name.")],
    test: Annotated[Optional[list[str]], typer.Option(
        "--test", "-t", help="A test it must pass first, then kept with it (repeatable).")]
    = None,
    library: LibraryOpt = None,
) -> None:
    """Confirm a module stored unconfirmed (its tests were proposed by the model).

    With --test, the tests run in the sandbox first and are added only if all pass; exit 1
    when one fails.
    """
    from agentlib.library.verified import set_verification
    from agentlib.model import TestCase
    from agentlib.sandbox import run
    from agentlib.verify.record import confirmed

    lib = open_library_at(library)
    module = lib.get(name)
    if module is None:
        raise StoreError(f"no active module named {name!r} in {lib.location}; see "
                         "`agentlib lib list`")
    tests = [t.strip() for t in test or []]
    if tests:
        from agentlib.agent.taskfile import parse_task

        parse_task({"prompt": name, "tests": tests}, "--test")  # refuses one that does not parse
        verdict = run(lib.program_for(module), [TestCase(t) for t in tests])
        if not verdict.passed:
            err = Console(stderr=True)
            err.print(f"[bold red]not confirmed:[/] {name} fails {len(verdict.failures)} of "
                      f"{len(tests)} test(s) ({verdict.ended}):", highlight=False)
            for failure in verdict.failures:
                err.print(f"  - {failure.test}: {failure.error_type}: "
                          f"{failure.message.strip()[:200]}", highlight=False, markup=False)
            raise typer.Exit(1)
    if module.verification.get("status") == "confirmed" and not tests:
        console.print(f"{name} v{module.version} is already confirmed")
        return
    record = confirmed(module.verification, tests, "confirmed by hand").to_dict()
    stored = set_verification(lib, module.id, record, tests)
    console.print(f"confirmed {name} v{stored.version}" + (
        f" with {len(tests)} more test(s) ({len(stored.tests)} in all)" if tests else ""))


@app.command("reindex")
def reindex(library: LibraryOpt = None) -> None:
    """Re-embed every module and insight with the configured embedder."""
    from agentlib.cli.options import make_runtime

    lib = make_runtime(make_settings(library=library)).open_library(check_embedder=False,
                                                                   create=False)
    count = lib.reindex()
    console.print(f"re-embedded {count} record(s) with {lib.embedder.name}")


@app.command("check")
def check(
    run_tests: Annotated[bool, typer.Option(
        "--run-tests", help="Also re-run every active module's stored tests in the sandbox.")]
    = False,
    repair: Annotated[bool, typer.Option(
        "--repair", help="First remove what killed processes left: partial collections of a "
                         "killed reindex, unfinished claims on a server; and rewrite the "
                         "read snapshot from Chroma.")] = False,
    reverify: Annotated[bool, typer.Option(
        "--reverify", help="Re-run the evidence on every active module (tests and checks; "
                           "with --llm/--model also an independent implementation) and store "
                           "how each was verified.")] = False,
    llm: LLMOpt = None,
    model: ModelOpt = None,
    base_url: BaseURLOpt = None,
    library: LibraryOpt = None,
) -> None:
    """Verify the library: whole records, embeddings, dependencies (and tests); exit 1 if not."""
    lib = open_library_at(library, create=False)
    problems = lib.check(run_tests=run_tests, repair=repair)
    if problems:
        err = Console(stderr=True)
        err.print(f"[bold red]{len(problems)} problem(s)[/] in {lib.location}:", highlight=False)
        for problem in problems:
            err.print(f"  - {problem}", highlight=False, markup=False)
        raise typer.Exit(1)
    console.print(f"ok: {lib.count()} module record(s), {lib.insights.count()} insight(s)"
                  + (", stored tests pass" if run_tests else ""))
    if reverify:
        _reverify(lib, make_settings(library=library, llm=llm, model=model, base_url=base_url),
                  compare=bool(llm or model or base_url))


def _reverify(lib, settings, compare: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    from agentlib.agent.reverify import reverify_library
    from agentlib.cli.options import make_runtime
    from agentlib.runtime import Runtime

    base = make_runtime(settings)
    runtime = Runtime(settings, pm=base.pm, library=lib)
    table = Table(title="re-verified" + ("" if compare else " (no --llm/--model: no "
                                         "independent implementation asked)"))
    for column in ("module", "before", "after", "agreed", "checks", "problem or warnings"):
        table.add_column(column, overflow="fold")
    found = reverify_library(runtime, runtime.llm() if compare else None)
    for r in found:
        agreed = f"{r.record.agreed}/{r.record.compared}" if "independent" in r.record.checks \
            else "-"
        table.add_row(f"{r.name} v{r.version}", r.before or "-", r.record.status, agreed,
                      ", ".join(r.record.checks),
                      Text(r.failed or "; ".join(r.record.warnings)))
    console.print(table)
    confirmed = sum(r.record.status == "confirmed" for r in found)
    bad = [r for r in found if r.failed]
    console.print(f"{confirmed} confirmed, {len(found) - confirmed} unconfirmed, "
                  f"{len(bad)} failing; {sum(r.llm_calls for r in found)} LLM call(s)",
                  highlight=False)
    if bad:
        raise typer.Exit(1)


@app.command("export")
def export(
    file: Annotated[Optional[Path], typer.Argument(help="JSONL file to write.")] = None,
    as_package: Annotated[Optional[Path], typer.Option(
        "--as-package", help="Write an installable Python package into this directory.")]
    = None,
    package: Annotated[str, typer.Option(
        "--package", help="Import name of the package for --as-package.")] = "agentlib_modules",
    overwrite: Annotated[bool, typer.Option(
        help="Replace an existing FILE, or the previous export in the --as-package "
             "directory.")] = False,
    library: LibraryOpt = None,
) -> None:
    """Export the library to a JSONL file, or as an installable package with its tests."""
    from agentlib.library.portable import export_jsonl, export_package

    if (file is None) == (as_package is None):
        raise typer.BadParameter("give either FILE.jsonl or --as-package DIR")
    if file is not None:
        check_output_file(file, overwrite, "FILE")
    lib = open_library_at(library, create=False)
    if as_package is not None:
        count = export_package(lib, as_package, package, overwrite=overwrite)
        console.print(f"wrote package {package} ({count} module(s)) to {as_package}; "
                      f"try: pip install {as_package} && pytest {as_package}")
        return
    assert file is not None
    console.print(f"exported {export_jsonl(lib, file)} record(s) to {file}")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="JSONL file made by `agentlib lib export`.")],
    library: LibraryOpt = None,
) -> None:
    """Import an export; every module is re-verified in the sandbox first. Exit 1 on rejects."""
    from agentlib.library.portable import import_jsonl

    report = import_jsonl(open_library_at(library), file)
    console.print(f"imported {len(report.accepted)} module(s) and {report.insights_added} "
                  f"insight(s); {len(report.already_present)} already present")
    if report.rejected:
        err = Console(stderr=True)
        err.print(f"[bold red]rejected {len(report.rejected)}:[/]", highlight=False)
        for what, why in report.rejected:
            err.print(f"  - {what}: {why}", highlight=False, markup=False)
        raise typer.Exit(1)


@app.command("stats")
def stats(
    library: LibraryOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts, sizes, most and never reused modules, and where modules came from."""
    from dataclasses import asdict

    from agentlib.library.stats import library_stats

    figures = library_stats(open_library_at(library, create=False))
    if json_out:
        console.print_json(json.dumps(asdict(figures)))
        return
    from rich.table import Table

    table = Table(show_header=False, title="library")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for status, count in sorted(figures.modules_by_status.items()):
        table.add_row(f"modules {status}", str(count))
    table.add_row("insights", str(figures.insights))
    table.add_row("tests (active)", str(figures.tests))
    table.add_row("source bytes (active)", str(figures.source_bytes))
    table.add_row("on disk", "-" if figures.disk_bytes is None
                  else f"{figures.disk_bytes / 1e6:.1f} MB")
    table.add_row("most reused", ", ".join(f"{n} ({c})" for n, c in figures.most_reused) or "-")
    table.add_row("never reused", ", ".join(figures.never_reused) or "-")
    table.add_row("by provenance", ", ".join(f"{p}: {c}" for p, c in
                                             sorted(figures.by_provenance.items())) or "-")
    console.print(table)


def check_output_file(path: Path, overwrite: bool = True, option: str = "") -> None:
    """Refuse an output file that cannot be written (OSError: its directory is missing or is
    a file; it is a directory) or, unless `overwrite`, that exists (UsageError)."""
    parent = path.parent
    if not parent.is_dir():
        code = errno.ENOTDIR if parent.exists() else errno.ENOENT
        raise OSError(code, f"cannot write {path}: {os.strerror(code)}", str(parent))
    if path.is_dir():
        raise OSError(errno.EISDIR, f"cannot write {path}: {os.strerror(errno.EISDIR)}",
                      str(path))
    if path.exists() and not overwrite:
        raise UsageError(f"{path} already exists; pass --overwrite to replace it"
                         + (f" (or choose another {option})" if option else ""))


def _register_refactor_commands() -> None:
    from agentlib.cli.refactor import lib_dedup, lib_prune

    app.command("dedup")(lib_dedup)
    app.command("prune")(lib_prune)


_register_refactor_commands()
