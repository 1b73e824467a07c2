"""Run one task list under several agent configurations and compare them.

Configurations (each with a fresh library in its own temporary directory, the same LLM; those
with repair use the configured `attempts`):
- `agent`      the full agent: library (retrieve, reuse, store), repair;
- `no-library` neither retrieve nor store;
- `no-repair`  library, but one attempt;
- `no-insights` library and repair, but no insights shown or learned;
- `raw`        the model alone: one completion, no retrieval, no repair, no evidence step,
               same extraction and sandbox; on a task without visible tests, one completion
               from the text alone (no tests proposed), judged by the hidden tests only
               (status `untested`);
- `agent-no-plugins` the full agent with no plugin loaded (built-ins only), where every other
               configuration runs with the installed plugins (as the quickstart installs
               them): the difference is what the plugins change.
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from agentlib.config import Settings
from agentlib.model import Task, TestCase

CONFIGS = {
    "agent": {"use_library": True},
    "no-library": {"use_library": False},
    "no-repair": {"use_library": True, "attempts": 1},
    "no-insights": {"use_library": True, "use_insights": False},
    "raw": {"use_library": False, "attempts": 1, "propose_tests": False,
            "cross_check": "never"},
    "agent-no-plugins": {"use_library": True},
}
WITHOUT_PLUGINS = frozenset({"agent-no-plugins"})
"""Configurations run with the built-in plugins only."""


@dataclass
class TaskRow:
    """One task's outcome under one configuration."""

    config: str
    id: str
    status: str
    decision: str | None
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    wall_s: float
    attempts: int
    hidden: bool | None  # None: the task has no hidden tests
    library_size: int
    error: str | None = None
    family: str | None = None  # set by stream benchmarks
    budget: int | None = None  # equal-compute runs: the task's share of the LLM calls
    calls_by_kind: dict[str, int] = field(default_factory=dict)
    """`llm_calls` by what asked for them (`SolveResult.calls_by_kind`)."""


@dataclass
class ConfigSummary:
    """Totals of one configuration."""

    config: str
    tasks: int = 0
    solved: int = 0
    hidden_solved: int = 0
    hidden_tasks: int = 0
    first_attempt: int = 0
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    reused: int = 0
    library_size: int = 0
    calls_by_kind: dict[str, int] = field(default_factory=dict)
    setup_s: float = 0.0  # opening the library and loading the embedder, before the first task
    rows: list[TaskRow] = field(default_factory=list)

    @property
    def calls_per_solved(self) -> float:
        return self.llm_calls / self.solved if self.solved else float("inf")

    def add(self, row: TaskRow) -> None:
        """Append one task's row and count it in the totals."""
        self.rows.append(row)
        self.tasks += 1
        self.solved += row.status == "solved"
        self.first_attempt += row.status == "solved" and row.attempts <= 1
        self.reused += row.decision == "reused"
        self.llm_calls += row.llm_calls
        self.prompt_tokens += row.prompt_tokens
        self.completion_tokens += row.completion_tokens
        self.wall_s += row.wall_s
        self.calls_by_kind = sum_counts([self.calls_by_kind, row.calls_by_kind])
        if row.hidden is not None:
            self.hidden_tasks += 1
            self.hidden_solved += row.hidden
        self.library_size = row.library_size


def hidden_passes(program: str, hidden: list[TestCase]) -> bool:
    """Tell whether a program passes the held-back tests, run in the sandbox."""
    from agentlib.sandbox import run

    return bool(program) and run(program, hidden).passed


def run_config(name: str, tasks: list[Task], llm: Any, base: Settings, workdir: Path,
               on_row: Callable[[TaskRow], None] | None = None) -> ConfigSummary:
    """Solve `tasks` in order under configuration `name` with a fresh library."""
    from agentlib.agent import Agent

    if name not in CONFIGS:
        raise ValueError(f"unknown configuration {name!r}; choose from {', '.join(CONFIGS)}")
    settings = Settings(**{**asdict(base), **CONFIGS[name]})
    settings.store = str(workdir / f"library-{name}")
    pm = None
    if name in WITHOUT_PLUGINS:
        from agentlib.plugins import make_plugin_manager

        pm = make_plugin_manager(load_entry_points=False)
    agent = Agent(settings, llm=llm, pm=pm)
    summary = ConfigSummary(config=name)
    start = time.monotonic()
    if agent.library is not None:  # a one-off cost, kept out of the first task's wall time
        agent.library.embed("warm up")
    summary.setup_s = round(time.monotonic() - start, 3)
    for task in tasks:
        if not task.tests and not settings.propose_tests:
            row = untested_row(name, agent, task)
            summary.add(row)
            if on_row:
                on_row(row)
            continue
        result = agent.solve(task)
        hidden = None
        if task.hidden_tests:
            hidden = result.status == "solved" and hidden_passes(result.program,
                                                                 task.hidden_tests)
        size = agent.library.count() if agent.library is not None else 0
        row = TaskRow(config=name, id=task.id, status=result.status, decision=result.decision,
                      llm_calls=result.llm_calls, prompt_tokens=result.prompt_tokens,
                      completion_tokens=result.completion_tokens, wall_s=result.wall_s,
                      attempts=result.attempts, hidden=hidden, library_size=size,
                      error=result.error, calls_by_kind=result.calls_by_kind)
        summary.add(row)
        if on_row:
            on_row(row)
    return summary


def untested_row(config: str, agent: Any, task: Task) -> TaskRow:
    """One completion for a task without visible tests, judged by its hidden tests alone."""
    from agentlib.agent.propose import write_untested

    start = time.monotonic()
    attempt = write_untested(agent.runtime, task)
    reply = attempt.reply
    hidden = hidden_passes(attempt.program, task.hidden_tests) if task.hidden_tests else None
    return TaskRow(config=config, id=task.id, status="untested",
                   decision="created" if attempt.program else "failed", llm_calls=1,
                   prompt_tokens=reply.prompt_tokens if reply else 0,
                   completion_tokens=reply.completion_tokens if reply else 0,
                   wall_s=round(time.monotonic() - start, 3), attempts=1, hidden=hidden,
                   library_size=agent.library.count() if agent.library is not None else 0,
                   error=attempt.rejection.reason if attempt.rejection else None,
                   calls_by_kind={"generate": 1})


def run_configs(tasks: list[Task], configs: list[str], llm: Any, base: Settings,
                on_row: Callable[[TaskRow], None] | None = None) -> list[ConfigSummary]:
    """Run every configuration in sequence over the same tasks (fresh library each)."""
    with tempfile.TemporaryDirectory(prefix="agentlib-bench-") as tmp:
        return [run_config(name, tasks, llm, base, Path(tmp), on_row) for name in configs]


def environment(llm: Any) -> dict[str, Any]:
    """What a reader needs to reproduce the run."""
    from agentlib import __version__

    info: dict[str, Any] = {"agentlib": __version__, "python": platform.python_version(),
                            "machine": platform.machine(), "platform": platform.platform(),
                            "llm": getattr(llm, "name", str(llm)), "seed": 0,
                            "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    path = getattr(llm, "path", None)
    if path is not None:
        from agentlib.llm.provision import MODELS

        for spec in MODELS.values():
            if Path(path).name == spec.filename:
                info["model_sha256"] = spec.sha256
    return info


def write_plots(directory: Path, summaries: list[ConfigSummary], env: dict[str, Any],
                source: str) -> list[Path]:
    """Write the line plots (none when matplotlib is not installed)."""
    try:
        from agentlib.bench.plots import line_figures, save

        figures = line_figures(summaries, str(env.get("llm", "")), source)
    except ImportError:
        return []
    return save(figures, directory)


def sum_counts(counts: list[dict[str, int]]) -> dict[str, int]:
    """The counts (calls by kind) added up."""
    return dict(sum((Counter(c) for c in counts), Counter()))


def calls_by_kind_text(counts: dict[str, int]) -> str:
    """`generate 40, cross_check 31, …`: most first."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{kind} {n}" for kind, n in ranked)


def write_report(directory: Path, summaries: list[ConfigSummary], env: dict[str, Any],
                 source: str) -> Path:
    """Write results.jsonl and report.md (and plots when matplotlib is available)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "results.jsonl").open("w") as fh:
        for summary in summaries:
            for row in summary.rows:
                fh.write(json.dumps(asdict(row)) + "\n")
    lines = [f"# agentlib benchmark: {source}", "", "| configuration | tasks | solved | "
             "hidden solved | first-attempt | LLM calls | calls/solved | prompt tok | "
             "completion tok | wall s | reused | library size |", "|" + "---|" * 12]
    for s in summaries:
        hidden = f"{s.hidden_solved}/{s.hidden_tasks}" if s.hidden_tasks else "—"
        lines.append(f"| {s.config} | {s.tasks} | {s.solved} | {hidden} | {s.first_attempt} | "
                     f"{s.llm_calls} | {s.calls_per_solved:.2f} | {s.prompt_tokens} | "
                     f"{s.completion_tokens} | {s.wall_s:.1f} | {s.reused} | {s.library_size} |")
    lines += [""] + [f"- LLM calls of {s.config} by kind: {calls_by_kind_text(s.calls_by_kind)}"
                     for s in summaries if s.calls_by_kind]
    lines += ["", "## Environment", "", "```json", json.dumps(env, indent=1), "```", ""]
    plots = write_plots(directory, summaries, env, source)
    lines += [f"![{p.stem}]({p.name})" for p in plots]
    report = directory / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report
