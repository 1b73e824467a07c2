"""`agentlib solve`: one task from the command line, or a batch from a task file."""

from __future__ import annotations

import json
import os
import sys
import threading
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

from agentlib.cli.errors import EXIT_INTERRUPTED, print_error, print_note
from agentlib.cli.options import (
    BaseURLOpt,
    LibraryOpt,
    LLMOpt,
    ModelOpt,
    QuietOpt,
    is_quiet,
    make_runtime,
    make_settings,
)
from agentlib.errors import TaskFormatError, UsageError

console = Console()
err_console = Console(stderr=True)
STDOUT = "-"


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
    out: Annotated[Optional[str], typer.Option(
        "--out", "-o", help="Batch: where to write one JSON result per line (`-`: standard "
                            "output, which cannot be resumed).")] = None,
    resume: Annotated[bool, typer.Option(
        help="Batch: keep the results already in --out and solve only the rest.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Batch: replace an existing --out.")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Batch: tasks solved at once.")] = 1,
    shard_spec: Annotated[Optional[str], typer.Option(
        "--shard", help="Batch: run only slice I of N (round robin), e.g. 2/4.")] = None,
    attempts: Annotated[Optional[int], typer.Option(
        min=1, help="Generate + repair attempts (default: the `attempts` setting).")] = None,
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
    quiet: QuietOpt = False,
    library: LibraryOpt = None,
    llm: LLMOpt = None,
    model: ModelOpt = None,
    base_url: BaseURLOpt = None,
) -> None:
    """Solve a task: reuse a library module that passes its tests, or write, validate, repair and store a new one.

    Exit code 0 when every task is solved, 1 when one is not, 2 on bad usage, 130 when
    interrupted. Progress (the current step, attempt k/N, tokens, time) shows on stderr when
    it is a terminal.
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
    quiet = is_quiet(quiet)
    if file is not None:
        if prompt or test:
            raise typer.BadParameter("give either PROMPT with --test, or --file", param_hint="--file")
        lines, out_path = _batch_input(file, out, resume, overwrite, shard_spec)
        agent = Agent(make_runtime(settings))
        agent.runtime.llm()  # a bad backend or model fails now, before any task
        raise typer.Exit(_batch(agent, lines, out_path, resume, workers, quiet))
    if not prompt or not prompt.strip():
        raise typer.BadParameter("a task needs PROMPT, its description in words (or use "
                                 "--file tasks.jsonl)", param_hint="PROMPT")
    task = _command_line_task(prompt, test, entry_point, settings.propose_tests)
    runtime = make_runtime(settings)
    runtime.llm()  # a bad backend or model fails now, before the library opens
    derived = [t.source for t in task.tests if t.origin == "derived"]
    if derived and not quiet:
        err_console.print(f"{len(derived)} test(s) derived from the text:", highlight=False)
        for source in derived:
            err_console.print(f"  {source}", highlight=False, markup=False)
    elif not task.tests and not quiet:
        err_console.print("no tests given and no example in the text: the model proposes "
                          "some (the module is stored unconfirmed)", highlight=False)
    result = _solve_one(Agent(runtime), task, settings.attempts, quiet)
    if json_out:
        console.print_json(json.dumps(result.to_record()))
        if result.error:
            print_error(result.error)
    else:
        from agentlib.cli.render import render_result

        render_result(console, result, trace=trace, errors=err_console)
    raise typer.Exit(0 if result.status == "solved" else 1)


def _command_line_task(prompt: str, test: list[str] | None, entry_point: str | None,
                       propose: bool):
    """The task the options describe; what is wrong with it is a usage error (exit 2)."""
    from agentlib.agent.taskfile import parse_task

    try:
        task = parse_task({"id": "cli", "prompt": prompt, "tests": test,
                           "entry_point": entry_point}, "command line")
    except TaskFormatError as exc:
        raise UsageError(str(exc)) from exc
    if not task.tests and not propose:
        raise typer.BadParameter(
            "no --test given and no example could be read from PROMPT (such as `f(1) => 2`, "
            "`f(1) == 2` or `>>> f(1)` then `2`), and --no-propose keeps the model from "
            "proposing tests; give at least one --test \"assert f(1) == 2\"",
            param_hint="PROMPT/--test")
    return task


def _solve_one(agent, task, max_attempts: int, quiet: bool):
    """Solve one task with the progress line on stderr (when it is a terminal)."""
    from agentlib.cli.progress import SolveProgress

    progress = SolveProgress(err_console, max_attempts, enabled=not quiet)
    try:
        with progress:
            return agent.solve(task, on_token=progress.on_token if progress.enabled else None,
                               on_step=progress.on_step)
    except TaskFormatError as exc:  # the task's own tests, found wanting by the agent
        raise UsageError(str(exc)) from exc


def _batch_input(file: Path, out: str | None, resume: bool, overwrite: bool,
                 shard_spec: str | None):
    """Read and check everything a batch needs before anything loads: (task lines, out)."""
    from agentlib.agent.batch import shard
    from agentlib.agent.taskfile import read_tasks

    if out is None:
        raise typer.BadParameter("batch mode needs --out results.jsonl (or --out - for "
                                 "standard output)", param_hint="--out")
    out_path = None if out == STDOUT else Path(out)
    if out_path is None and resume:
        raise UsageError("--resume needs a results file: --out - writes to standard output, "
                         "which cannot be resumed; give --out FILE")
    if out_path is not None:
        from agentlib.cli.lib import check_output_file

        check_output_file(out_path)
        if out_path.exists() and not resume and not overwrite:
            raise UsageError(f"{out_path} already exists: pass --resume to continue it or "
                             "--overwrite to replace it")
    lines = list(read_tasks(file))
    if shard_spec:
        try:
            index, count = (int(x) for x in shard_spec.split("/"))
        except ValueError:
            raise typer.BadParameter("use --shard I/N, e.g. 2/4", param_hint="--shard") from None
        try:
            lines = shard(lines, index, count)
        except TaskFormatError as exc:
            raise UsageError(f"--shard {shard_spec}: {exc}") from exc
    return lines, out_path


def _batch(agent, lines, out: Path | None, resume: bool, workers: int, quiet: bool) -> int:
    from agentlib.agent.batch import done_ids, run_batch

    where = str(out) if out is not None else "standard output"
    if resume and out is not None and not out.exists() and not quiet:
        err_console.print(f"[yellow]note:[/] {out} does not exist yet; starting from the "
                          "first task", highlight=False)
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TimeRemainingColumn()]
    try:
        with Progress(*columns, console=err_console,
                      disable=quiet or not err_console.is_terminal) as progress:
            bar = progress.add_task("solving", total=len(lines), stats="")

            def on_result(result, counts):
                elapsed = progress.tasks[0].elapsed or 1.0
                progress.update(bar, completed=counts.done + counts.skipped, stats=(
                    f"solved {counts.solved} · reused {counts.reused} · failed "
                    f"{counts.failed} · errors {counts.error} · "
                    f"{counts.completion_tokens / elapsed:.1f} tok/s"))

            if resume and out is not None:
                progress.update(bar, completed=len({line.id for line in lines} & done_ids(out)))
            counts = run_batch(agent, lines, out, resume=resume, workers=workers,
                               on_result=on_result)
    except KeyboardInterrupt:
        _interrupted(out)
    if not quiet:
        err_console.print(
            f"{counts.done} task(s) run, {counts.skipped} already done: solved {counts.solved} "
            f"(reused {counts.reused}), failed {counts.failed}, errors {counts.error} → {where}",
            highlight=False)
    for message in counts.errors[:10]:
        print_error(message)
    if len(counts.errors) > 10:
        print_error(f"{len(counts.errors) - 10} more task error(s); see the error lines in "
                    f"{where}")
    return 0 if counts.failed == 0 and counts.error == 0 else 1


def _interrupted(out: Path | None) -> None:
    """Say how to go on after Ctrl-C and exit 130, without waiting for running tasks."""
    if out is not None:
        print_note(f"interrupted; rerun with --resume to continue {out} (finished tasks are "
                   "kept)")
    else:
        print_note("interrupted; the results so far are on standard output (--out - cannot "
                   "be resumed)")
    busy = [t for t in threading.enumerate()
            if t is not threading.main_thread() and t.is_alive() and not t.daemon]
    if busy:  # workers still inside a task: their results are not written; leave now
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    raise typer.Exit(EXIT_INTERRUPTED)
