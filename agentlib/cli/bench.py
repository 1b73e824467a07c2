"""`agentlib bench`: benchmarks that print figures (sandbox, store, task streams)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agentlib.cli import bench_tables as tables
from agentlib.cli.options import BaseURLOpt, LLMOpt, ModelOpt, make_runtime, make_settings
from agentlib.errors import UsageError

app = typer.Typer(help="Benchmarks that print figures: sandbox, store, reuse, coldstart, tasks, "
                       "stream, refactor, validators.",
                  no_args_is_help=True)
console = Console()

BUNDLED_STREAM = Path(__file__).resolve().parents[1] / "bench" / "data" / "compositional.jsonl"


@app.command("sandbox")
def sandbox(runs: Annotated[int, typer.Option(min=3, help="Validations to time.")] = 30) -> None:
    """Sandbox overhead: validation vs bare interpreter spawn, validations per second."""
    from agentlib.bench.sandbox import format_figures, sandbox_benchmark

    console.print(format_figures(sandbox_benchmark(runs=runs, echo=False)))


@app.command("store")
def store(n: Annotated[str, typer.Option(
        "--n", help="Comma-separated library sizes.")] = "1000,10000,100000") -> None:
    """Store: insert rate, size, reopen, query p50/p95, recall@5 vs an exact scan."""
    from agentlib.bench.store import store_benchmark

    store_benchmark([int(x) for x in n.split(",") if x.strip()])


@app.command("reuse")
def reuse(runs: Annotated[int, typer.Option(min=3, help="Timed solves.")] = 20) -> None:
    """The reuse path: wall time of a task a stored module solves (zero LLM calls)."""
    from agentlib.bench.reuse import reuse_benchmark

    reuse_benchmark(runs)


@app.command("coldstart")
def coldstart(
    runs: Annotated[int, typer.Option(min=1, help="Timed cold runs of each command.")] = 5,
    embedder: Annotated[str, typer.Option(help="Embedder the commands use.")] = "minilm",
) -> None:
    """Cold-process wall time of --help, lib list, lib search and a reused solve, vs bare python."""
    from agentlib.bench.coldstart import BASELINE, coldstart_benchmark

    with console.status("timing cold processes…"):
        figures = coldstart_benchmark(runs, embedder)
    base = next(t for t in figures.commands if t.name == BASELINE).median_s
    table = Table(title=f"cold start (median of {figures.runs}, embedder {figures.embedder})")
    for column in ("command", "median s", "min s", "max s", "over python s", "heavy imports"):
        table.add_column(column, justify="right" if column.endswith(" s") else "left")
    for t in figures.commands:
        table.add_row(t.name, f"{t.median_s:.3f}", f"{min(t.times_s):.3f}",
                      f"{max(t.times_s):.3f}", "—" if t.name == BASELINE
                      else f"{t.median_s - base:.3f}", ", ".join(t.heavy) or "none")
    console.print(table)
    console.print(f"solve: LLM calls per run {figures.solve_llm_calls} (decision: reused)")
    console.print(f"slowest: {figures.slowest} — python -X importtime, top "
                  f"{len(figures.imports)} by cumulative (all imports "
                  f"{figures.import_total_s:.3f} s):", highlight=False)
    imports = Table()
    for column in ("module", "cumulative s", "self s"):
        imports.add_column(column, justify="left" if column == "module" else "right")
    for row in figures.imports:
        imports.add_row("  " * row.depth + row.module, f"{row.cumulative_s:.3f}",
                        f"{row.self_s:.3f}")
    console.print(imports)


def _load(file: Path, limit: int | None):
    from agentlib.agent.taskfile import read_tasks

    lines = list(read_tasks(file))
    bad = [line.error for line in lines if line.task is None]
    if bad:
        from agentlib.errors import TaskFormatError

        raise TaskFormatError(f"{len(bad)} malformed task(s) in {file}; first: {bad[0]}")
    tasks = [line.task for line in lines]
    return tasks[:limit] if limit else tasks


def _progress(configs: list[str], total: int):
    """A progress display on stderr (one bar per configuration) and the row callback."""
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[stats]}"), TimeElapsedColumn()]
    progress = Progress(*columns, console=Console(stderr=True))
    bars = {name: progress.add_task(name, total=total, stats="") for name in configs}
    solved = dict.fromkeys(configs, 0)

    def on_row(row):
        solved[row.config] += row.status == "solved"
        progress.update(bars[row.config], advance=1,
                        stats=f"solved {solved[row.config]} · last {row.decision}")

    return progress, on_row


def _run(file: Path, configs: list[str], report: Path | None, limit: int | None,
         llm: str | None, model: str | None, base_url: str | None) -> list:
    from agentlib.bench.tasks import calls_by_kind_text, environment, run_configs, write_report

    tasks = _load(file, limit)
    settings = make_settings(llm=llm, model=model, base_url=base_url)
    model_llm = make_runtime(settings).llm()
    progress, on_row = _progress(configs, len(tasks))
    with progress:
        summaries = run_configs(tasks, configs, model_llm, settings, on_row)
    console.print(tables.summary_table(summaries))
    for s in summaries:
        if s.calls_by_kind:
            console.print(f"LLM calls of {s.config} by kind: {calls_by_kind_text(s.calls_by_kind)}")
    if report is not None:
        path = write_report(report, summaries, environment(model_llm), str(file))
        console.print(f"report: {path}")
    return summaries


@app.command("tasks")
def tasks(
    file: Annotated[Path, typer.Argument(help="Task file (agentlib, MBPP or HumanEval JSONL).")],
    configs: Annotated[str, typer.Option(
        help="Comma-separated: agent, agent-no-plugins, no-library, no-repair, no-insights, "
             "raw.")] = "agent,no-library,raw",
    report: Annotated[Optional[Path], typer.Option(
        help="Directory for results.jsonl, report.md and plots.")] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Only the first N tasks.")] = None,
    llm: LLMOpt = None,
    model: ModelOpt = None,
    base_url: BaseURLOpt = None,
) -> None:
    """Run several configurations over the same tasks (fresh library each) and compare."""
    from agentlib.bench.tasks import CONFIGS

    names = [c.strip() for c in configs.split(",") if c.strip()]
    unknown = [name for name in names if name not in CONFIGS]
    if unknown or not names:
        raise UsageError(f"--configs {configs!r}: unknown configuration(s) "
                         f"{', '.join(unknown) or '(none given)'}; choose from "
                         f"{', '.join(CONFIGS)}")
    _run(file, names, report, limit, llm, model, base_url)


@app.command("stream")
def stream(
    files: Annotated[Optional[list[Path]], typer.Argument(
        help="Task stream(s), each solved from an empty library, one after another (default: "
             "the bundled compositional stream).", show_default=False)] = None,
    report: Annotated[Optional[Path], typer.Option(
        help="Report directory (one sub-directory per stream when there are several).")] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Only the first N tasks.")] = None,
    equal_compute: Annotated[bool, typer.Option(
        "--equal-compute/--no-equal-compute",
        help="Also run no-library at equal compute: the agent's LLM calls spent as samples "
             "selected by the visible tests.")] = True,
    sample_temperature: Annotated[Optional[float], typer.Option(
        min=0.0, help="Temperature of the equal-compute samples after the first, greedy one "
                      "(default: the repair_temperature setting).")] = None,
    resamples: Annotated[int, typer.Option(min=100, help="Bootstrap resamples.")] = 2000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the figures as JSON (a list, one object per stream) instead of "
                       "tables.")] = False,
    ablate: Annotated[Optional[str], typer.Option(
        help="`insights`: compare with and without insights instead of with and without "
             "the library.")] = None,
    llm: LLMOpt = None,
    model: ModelOpt = None,
    base_url: BaseURLOpt = None,
) -> None:
    """Run task streams with a growing library, without one, and without one at equal compute;
    print hidden-test passes, LLM calls, tokens and wall time with bootstrap intervals."""
    files = files or [BUNDLED_STREAM]
    if ablate == "insights":
        for file in files:
            with_insights, without = _run(file, ["agent", "no-insights"], report, limit, llm,
                                          model, base_url)
            for s in (with_insights, without):
                console.print(f"{s.config}: first-attempt success {s.first_attempt}/{s.tasks}, "
                              f"attempts {sum(r.attempts for r in s.rows)}, solved {s.solved}")
        return
    if ablate:
        raise typer.BadParameter("only `insights` can be ablated here", param_hint="--ablate")
    import json

    from agentlib.bench.stream import read_stream, run_stream, stream_figures
    from agentlib.bench.stream_report import write_stream_report
    from agentlib.bench.tasks import environment

    streams = [(file, read_stream(file, limit)) for file in files]
    settings = make_settings(llm=llm, model=model, base_url=base_url)
    model_llm = make_runtime(settings).llm()
    configs = ["agent", "no-library"] + (["equal-compute"] if equal_compute else [])
    results = []
    for file, tasks in streams:
        progress, on_row = _progress(configs, len(tasks))
        with progress:
            run = run_stream(str(file), tasks, model_llm, settings, equal_compute=equal_compute,
                             temperature=sample_temperature, on_row=on_row)
        figures = stream_figures(run, resamples=resamples, seed=seed)
        results.append(figures)
        if report is not None:
            where = report if len(streams) == 1 else report / file.stem
            path = write_stream_report(where, run, figures, environment(model_llm))
            Console(stderr=True).print(f"report: {path}")
        if not as_json:
            tables.print_stream(console, figures)
    if as_json:
        typer.echo(json.dumps(results, indent=1))


@app.command("refactor")
def refactor(
    file: Annotated[Path, typer.Argument(help="Task stream (default: the bundled "
                                              "compositional stream).")] = BUNDLED_STREAM,
    later: Annotated[int, typer.Option(
        min=1, help="The last N tasks of FILE are re-run on each library; the rest grow "
                    "it.")] = 14,
    extra: Annotated[Optional[list[Path]], typer.Option(
        help="More task files (e.g. MBPP train) that grow the library after FILE's first "
             "part. Repeatable.")] = None,
    extra_limit: Annotated[Optional[int], typer.Option(
        min=1, help="Only the first N tasks of each --extra file.")] = None,
    budget: Annotated[int, typer.Option(min=0, help="Refactor clusters to try (one LLM call "
                                                    "each).")] = 5,
    prune: Annotated[bool, typer.Option(help="Also prune, as a separate, measured step.")] = False,
    report: Annotated[Optional[Path], typer.Option(
        help="Directory for refactor.json and the two libraries (kept for inspection).")] = None,
    llm: LLMOpt = None,
    model: ModelOpt = None,
    base_url: BaseURLOpt = None,
) -> None:
    """Grow a library, refactor + dedup (+ prune) a copy, re-run later tasks on each."""
    import json
    import tempfile

    from agentlib.bench.refactor import refactor_benchmark

    stream_tasks = _load(file, None)
    if later >= len(stream_tasks):
        raise typer.BadParameter(f"{file} has {len(stream_tasks)} task(s); --later must leave "
                                 "some to grow the library", param_hint="--later")
    grow = stream_tasks[:-later]
    for path in extra or []:
        grow += _load(path, extra_limit)
    settings = make_settings(llm=llm, model=model, base_url=base_url)
    model_llm = make_runtime(settings).llm()
    with tempfile.TemporaryDirectory(prefix="agentlib-bench-") as tmp:
        workdir = report / "libraries" if report else Path(tmp)
        if workdir.exists():
            raise typer.BadParameter(f"{workdir} exists; choose a new --report directory",
                                     param_hint="--report")
        workdir.mkdir(parents=True)
        with console.status("growing the library") as status:
            figures = refactor_benchmark(grow, stream_tasks[-later:], model_llm, settings,
                                         workdir, budget=budget, prune_too=prune,
                                         on_progress=status.update)
    console.print(tables.steps_table(figures))
    console.print(tables.later_table(figures["later"]))
    if report is not None:
        path = report / "refactor.json"
        path.write_text(json.dumps(figures, indent=1) + "\n")
        console.print(f"report: {path}")


@app.command("validators")
def validators(
    file: Annotated[Path, typer.Argument(help="Corpus: JSON lines {id, prompt, tests, program, "
                                              "expect: correct|wrong, kind?, reference?}.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the figures and rows as "
                                                          "JSON instead of tables.")] = False,
    evidence: Annotated[bool, typer.Option(
        help="Also compare each program with its line's `reference` (an independent "
             "implementation) on generated in-domain inputs.")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Programs checked at once.")] = 1,
    all_rows: Annotated[bool, typer.Option(
        "--all-rows", help="List every row, not only the misjudged ones.")] = False,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Only the first N lines.")] = None,
    llm: LLMOpt = None, model: ModelOpt = None,
) -> None:
    """Measure the checks: known-correct programs rejected, known-wrong programs caught.

    Runs what the agent applies to a candidate that passed its tests: the static
    special-case check, the validators of every loaded plugin (--no-plugins: none), and the
    evidence step: with --evidence the line's `reference`, with --llm/--model the model's.
    """
    import json

    from agentlib.bench.validators import ModelReference, read_corpus, run_bench, summary_line
    from agentlib.plugins import make_plugin_manager, run_checks

    writer = ModelReference(make_runtime(make_settings(None, llm, model))) if llm or model else None
    items = read_corpus(file)[:limit] if limit else read_corpus(file)
    pm = make_plugin_manager()
    with Progress(TextColumn("[bold]checks"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True),
                  disable=json_out) as progress:
        bar = progress.add_task("checks", total=len(items))
        figures = run_bench(items, lambda p, e, t: run_checks(pm, p, e, t), evidence, workers,
                            on_row=lambda _row: progress.advance(bar), model=writer)
    if json_out:
        typer.echo(json.dumps(figures.to_dict()))
        return
    console.print(tables.rows_table(figures, all_rows))
    console.print(tables.kinds_table(figures))
    console.print(summary_line(figures), highlight=False)
