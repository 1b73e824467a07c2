"""`agentlib sandbox`: run a program against tests in the sandbox, and measure its overhead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from agentlib.errors import TaskFormatError

app = typer.Typer(help="Run code against tests in the sandbox; benchmark the sandbox.",
                  no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


def _tests_from_file(path: Path):
    """Read tests: a JSON list (asserts, doctests, {function, args, expected}) or text."""
    from agentlib.sandbox.cases import cases_from, doctest_cases, pair_case

    text = path.read_text()
    if path.suffix == ".json":
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise TaskFormatError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(items, list):
            raise TaskFormatError(f"{path}: expected a JSON list of tests")
        cases = []
        for i, item in enumerate(items):
            if isinstance(item, str):
                cases.extend(cases_from([item]))
            elif isinstance(item, dict) and {"function", "args", "expected"} <= item.keys():
                cases.append(pair_case(item["function"], item["args"], item["expected"]))
            else:
                raise TaskFormatError(f"{path}: item {i} is neither a test string nor "
                                      "an object with function, args and expected")
        return cases
    if ">>>" in text:
        return doctest_cases(text)
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return cases_from(lines)


@app.command("run")
def run_command(
    code: Annotated[Path, typer.Option("--code", exists=True, dir_okay=False,
                                       help="The Python file to test.")],
    test: Annotated[Optional[list[str]], typer.Option(
        "--test", help="A test: `assert …` or a `>>>` doctest example. Repeatable.")] = None,
    tests_file: Annotated[Optional[Path], typer.Option(
        "--tests-file", exists=True, dir_okay=False,
        help="Tests, one assert per line, a doctest text, or a .json list "
             "(strings or {function, args, expected}).")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per test.")] = 5.0,
    allow: Annotated[Optional[list[str]], typer.Option(
        "--allow", help="A top-level package the code may import besides the standard "
                        "library. Repeatable.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the Verdict as JSON.")] = False,
) -> None:
    """Run the --code file against the tests in the sandbox; exit 0 if all passed, else 1.

    A program that special-cases the literal test inputs also exits 1 (see docs/sandbox.md).
    """
    from agentlib.sandbox import Limits, cases_from, run, special_cases_tests

    cases = cases_from(test or [])
    if tests_file:
        cases += _tests_from_file(tests_file)
    if not cases:
        raise TaskFormatError("no tests: give --test \"assert …\" or --tests-file FILE")
    program = code.read_text()
    limits = Limits(timeout_s=timeout, cpu_s=max(timeout, 1.0), allow_packages=tuple(allow or ()))
    verdict = run(program, cases, limits)
    special = special_cases_tests(program, cases)
    if json_out:
        console.print_json(json.dumps({**verdict.to_dict(), "special_cases": special}))
    else:
        from agentlib.cli.render import verdict_table

        console.print(verdict_table(verdict))
        passed = sum(r.passed for r in verdict.results)
        console.print(f"{passed}/{len(verdict.results)} passed · ended: {verdict.ended} · "
                      f"{verdict.wall_s * 1000:.0f} ms", highlight=False)
        if verdict.detail:
            errors.print(f"[yellow]{verdict.detail}[/]", highlight=False)
        if special:
            errors.print(f"[red]not verified:[/] {special}", highlight=False)
    if not verdict.passed or special:
        raise typer.Exit(1)


@app.command("isolation")
def isolation_command() -> None:
    """Show the isolation the sandbox uses on this machine, why, and which bounds are in force."""
    from agentlib.sandbox import detect_isolation

    isolation = detect_isolation()
    style = "green" if isolation.mode == "bwrap" else "bold red"
    console.print(f"[{style}]{isolation.mode}[/]: {isolation.reason}", highlight=False)
    for bound in isolation.bounds:
        mark = "[green]in force[/]" if bound.in_force else "[yellow]not in force[/]"
        console.print(f"  {bound.name}: {mark} — {escape(bound.how)}", highlight=False,
                      soft_wrap=True)  # one line per bound, whatever the width


@app.command("bench")
def bench_command(
    runs: Annotated[int, typer.Option("--runs", min=3, help="Samples per figure.")] = 30,
    json_out: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Measure a sandboxed validation against a bare `python -I -c pass` spawn."""
    from agentlib.bench.sandbox import format_figures, sandbox_benchmark

    figures = sandbox_benchmark(runs=runs, echo=False)
    if json_out:
        console.print_json(json.dumps(figures))
    else:
        console.print(format_figures(figures), highlight=False)
