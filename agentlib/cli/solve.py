"""`agentlib solve`: one task from the command line, or a batch from a task file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from agentlib.cli.options import BaseURLOpt, LibraryOpt, LLMOpt, ModelOpt, make_settings
from agentlib.errors import AgentlibError, TaskFormatError

console = Console()
err_console = Console(stderr=True)


def solve(
    prompt: Annotated[Optional[str], typer.Argument(help="The task, in words.")] = None,
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
    attempts: Annotated[int, typer.Option(min=1, help="Generate + repair attempts.")] = 3,
    no_library: Annotated[bool, typer.Option(
        "--no-library", help="Neither retrieve from nor store into the library.")] = False,
    trace: Annotated[bool, typer.Option(help="Show every decision the agent took.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    library: LibraryOpt = None,
    llm: LLMOpt = None,
    model: ModelOpt = None,
    base_url: BaseURLOpt = None,
) -> None:
    """Solve a task: reuse a library module that passes its tests, or write, validate,
    repair and store a new one.

    Exit code 0 when every task is solved, 1 when one is not, 2 on bad usage.
    """
    from agentlib.agent import Agent

    settings = make_settings(library, llm, model, base_url)
    settings.attempts = attempts
    settings.use_library = not no_library
    agent = Agent(settings)
    if file is not None:
        if prompt or test:
            raise typer.BadParameter("give either PROMPT with --test, or --file", param_hint="--file")
        raise typer.Exit(_batch(agent, file, out, resume, overwrite))
    if not prompt or not test:
        raise typer.BadParameter("a task needs PROMPT and at least one --test "
                                 "(or use --file tasks.jsonl)", param_hint="PROMPT/--test")
    from agentlib.agent.taskfile import parse_task

    task = parse_task({"id": "cli", "prompt": prompt, "tests": test, "entry_point": entry_point},
                      "command line")
    with console.status("solving…", spinner="dots"):
        result = agent.solve(task)
    if json_out:
        console.print_json(json.dumps(result.to_record()))
    else:
        from agentlib.cli.render import render_result

        render_result(console, result, trace=trace)
    raise typer.Exit(0 if result.status == "solved" else 1)


def _done_ids(out: Path) -> set[str]:
    done: set[str] = set()
    with out.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                done.add(str(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash is solved again
    return done


def _write(fh, record: dict) -> None:
    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    fh.flush()
    os.fsync(fh.fileno())


def _batch(agent, file: Path, out: Path | None, resume: bool, overwrite: bool) -> int:
    from agentlib.agent.taskfile import read_tasks

    if out is None:
        raise typer.BadParameter("batch mode needs --out results.jsonl", param_hint="--out")
    lines = list(read_tasks(file))
    done: set[str] = set()
    if out.exists():
        if resume:
            done = _done_ids(out)
            _truncate_partial_line(out)
        elif not overwrite:
            raise TaskFormatError(f"{out} already exists: pass --resume to continue it or "
                                  "--overwrite to replace it")
    elif resume:
        err_console.print(f"[yellow]note:[/] {out} does not exist yet; starting from the first task")
    todo = [line for line in lines if line.id not in done]
    counts = {"solved": 0, "reused": 0, "failed": 0, "error": 0}
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TimeRemainingColumn()]
    with out.open("a" if resume else "w", encoding="utf-8") as fh, \
            Progress(*columns, console=err_console) as progress:
        bar = progress.add_task("solving", total=len(todo), stats="")
        for line in todo:
            if line.task is None:
                counts["error"] += 1
                _write(fh, {"id": line.id, "status": "error", "decision": None,
                            "error": line.error})
            else:
                try:
                    result = agent.solve(line.task)
                    record = result.to_record()
                    counts["solved" if result.status == "solved" else "failed"] += 1
                    counts["reused"] += result.decision == "reused"
                except AgentlibError as exc:
                    if isinstance(exc, (TaskFormatError,)):
                        counts["error"] += 1
                        record = {"id": line.id, "status": "error", "decision": None,
                                  "error": str(exc)}
                    else:
                        raise
                _write(fh, record)
            progress.update(bar, advance=1, stats=(
                f"solved {counts['solved']} · reused {counts['reused']} · "
                f"failed {counts['failed']} · errors {counts['error']}"))
    err_console.print(
        f"{len(todo)} task(s) run, {len(done)} already done: solved {counts['solved']} "
        f"(reused {counts['reused']}), failed {counts['failed']}, errors {counts['error']} "
        f"→ {out}")
    return 0 if counts["failed"] == 0 and counts["error"] == 0 else 1


def _truncate_partial_line(out: Path) -> None:
    """Drop a last line that a crash left without its newline."""
    data = out.read_bytes()
    if data and not data.endswith(b"\n"):
        out.write_bytes(data[: data.rfind(b"\n") + 1])
