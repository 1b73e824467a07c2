"""`agentlib solve`: one task from the command line, or a batch from a task file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from agentlib.cli.options import (
    BaseURLOpt,
    LibraryOpt,
    LLMOpt,
    ModelOpt,
    make_runtime,
    make_settings,
)
from agentlib.errors import TaskFormatError

console = Console()
err_console = Console(stderr=True)


def solve(
    prompt: Annotated[Optional[str], typer.Argument(
        help="The task, in words; without --test, its examples (`f(1) => 2`, `>>> f(1)`…) "
             "become the tests.")] = None,
    test: Annotated[Optional[list[str]], typer.Option(
        "--test", "-t", help="A test such as \"assert f(2) == 4\" (repeatable).")] = None,
    entry_point: Annotated[Optional[str], typer.Option(
        help="Function name (default: the function the tests call).")] = None,
    file: Annotated[Optional[Path], typer.Option(
        "--file", "-f", help="Batch: a JSON Lines task file (agentlib or MBPP format).")] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Batch: where to write one JSON result per line.")] = None,
    resume: Annotated[bool, typer.Option(
        help="Batch: keep the results already in --out and solve only the rest.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Batch: replace an existing --out.")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Batch: tasks solved at once.")] = 1,
    shard_spec: Annotated[Optional[str], typer.Option(
        "--shard", help="Batch: run only slice I of N (round robin), e.g. 2/4.")] = None,
    attempts: Annotated[Optional[int], typer.Option(
        min=1, help="Generate + repair attempts [default: the `attempts` setting].")] = None,
    no_library: Annotated[bool, typer.Option(
        "--no-library", help="Neither retrieve from nor store into the library.")] = False,
    no_insights: Annotated[bool, typer.Option(
        "--no-insights", help="Neither show insights nor learn new ones.")] = False,
    no_repair: Annotated[bool, typer.Option(
        "--no-repair", help="One attempt only (same as --attempts 1).")] = False,
    no_propose: Annotated[bool, typer.Option(
        "--no-propose", help="Refuse a task with neither tests nor examples instead of having "
                             "the model propose tests (stored unconfirmed).")] = False,
    trace: Annotated[bool, typer.Option(help="Show every decision the agent took.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    library: LibraryOpt = None,
    llm: LLMOpt = None,
    model: ModelOpt = None,
    base_url: BaseURLOpt = None,
) -> None:
    """Solve a task: reuse a library module that passes its tests, or write, validate, repair and store a new one.

    Exit code 0 when every task is solved, 1 when one is not, 2 on bad usage.
    """
    from agentlib.agent import Agent

    settings = make_settings(library, llm, model, base_url)
    if attempts is not None:
        settings.attempts = attempts
    settings.use_library = not no_library
    settings.use_insights = not no_insights
    if no_repair:
        settings.attempts = 1
    if no_propose:
        settings.propose_tests = False
    agent = Agent(make_runtime(settings))
    if file is not None:
        if prompt or test:
            raise typer.BadParameter("give either PROMPT with --test, or --file", param_hint="--file")
        raise typer.Exit(_batch(agent, file, out, resume, overwrite, workers, shard_spec))
    if not prompt:
        raise typer.BadParameter("a task needs PROMPT (or use --file tasks.jsonl)",
                                 param_hint="PROMPT")
    from agentlib.agent.taskfile import parse_task

    task = parse_task({"id": "cli", "prompt": prompt, "tests": test, "entry_point": entry_point},
                      "command line")
    if not task.tests and not settings.propose_tests:
        raise typer.BadParameter(
            "no --test given and no example could be read from PROMPT (such as `f(1) => 2`, "
            "`f(1) == 2` or `>>> f(1)` then `2`), and --no-propose keeps the model from "
            "proposing tests; give at least one --test \"assert f(1) == 2\"",
            param_hint="PROMPT/--test")
    derived = [t.source for t in task.tests if t.origin == "derived"]
    if derived:
        err_console.print(f"{len(derived)} test(s) derived from the text:", highlight=False)
        for source in derived:
            err_console.print(f"  {source}", highlight=False, markup=False)
    elif not task.tests:
        err_console.print("no tests given and no example in the text: the model proposes "
                          "some (the module is stored unconfirmed)", highlight=False)
    with console.status("solving…", spinner="dots"):
        result = agent.solve(task)
    if json_out:
        console.print_json(json.dumps(result.to_record()))
    else:
        from agentlib.cli.render import render_result

        render_result(console, result, trace=trace)
    raise typer.Exit(0 if result.status == "solved" else 1)


def _batch(agent, file: Path, out: Path | None, resume: bool, overwrite: bool,
           workers: int, shard_spec: str | None) -> int:
    from agentlib.agent.batch import run_batch, shard
    from agentlib.agent.taskfile import read_tasks

    if out is None:
        raise typer.BadParameter("batch mode needs --out results.jsonl", param_hint="--out")
    lines = list(read_tasks(file))
    if shard_spec:
        try:
            index, count = (int(x) for x in shard_spec.split("/"))
        except ValueError:
            raise typer.BadParameter("use --shard I/N, e.g. 2/4", param_hint="--shard") from None
        lines = shard(lines, index, count)
    if out.exists() and not resume and not overwrite:
        raise TaskFormatError(f"{out} already exists: pass --resume to continue it or "
                              "--overwrite to replace it")
    if resume and not out.exists():
        err_console.print(f"[yellow]note:[/] {out} does not exist yet; starting from the first task")
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err_console) as progress:
        bar = progress.add_task("solving", total=len(lines), stats="")

        def on_result(result, counts):
            elapsed = progress.tasks[0].elapsed or 1.0
            progress.update(bar, completed=counts.done + counts.skipped, stats=(
                f"solved {counts.solved} · reused {counts.reused} · failed {counts.failed} · "
                f"errors {counts.error} · {counts.completion_tokens / elapsed:.1f} tok/s"))

        if resume:
            from agentlib.agent.batch import done_ids

            progress.update(bar, completed=len({line.id for line in lines} & done_ids(out)))
        counts = run_batch(agent, lines, out, resume=resume, workers=workers,
                           on_result=on_result)
    err_console.print(
        f"{counts.done} task(s) run, {counts.skipped} already done: solved {counts.solved} "
        f"(reused {counts.reused}), failed {counts.failed}, errors {counts.error} → {out}")
    for message in counts.errors[:10]:
        err_console.print(f"[red]error:[/] {message}", highlight=False)
    return 0 if counts.failed == 0 and counts.error == 0 else 1
