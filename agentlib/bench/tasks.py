"""Run one task list under several agent configurations and compare them.

Configurations (each with a fresh library in its own temporary directory, the same LLM; those
with repair use the configured `attempts`):
- `agent`      the full agent: library (retrieve, reuse, store), repair;
- `no-library` neither retrieve nor store;
- `no-repair`  library, but one attempt;
- `no-insights` library and repair, but no insights shown or learned;
- `raw`        the model alone: one completion, no retrieval, no repair, same extraction and
               sandbox.
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
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
    "raw": {"use_library": False, "attempts": 1},
}


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
    rows: list[TaskRow] = field(default_factory=list)

    @property
    def calls_per_solved(self) -> float:
        return self.llm_calls / self.solved if self.solved else float("inf")


def _hidden_passes(program: str, hidden: list[TestCase]) -> bool:
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
    agent = Agent(settings, llm=llm)
    summary = ConfigSummary(config=name)
    for task in tasks:
        result = agent.solve(task)
        hidden = None
        if task.hidden_tests:
            hidden = result.status == "solved" and _hidden_passes(result.program,
                                                                   task.hidden_tests)
        size = agent.library.count() if agent.library is not None else 0
        row = TaskRow(config=name, id=task.id, status=result.status, decision=result.decision,
                      llm_calls=result.llm_calls, prompt_tokens=result.prompt_tokens,
                      completion_tokens=result.completion_tokens, wall_s=result.wall_s,
                      attempts=result.attempts, hidden=hidden, library_size=size,
                      error=result.error)
        summary.rows.append(row)
        summary.tasks += 1
        summary.solved += result.status == "solved"
        summary.first_attempt += result.status == "solved" and result.attempts <= 1
        summary.reused += result.decision == "reused"
        summary.llm_calls += result.llm_calls
        summary.prompt_tokens += result.prompt_tokens
        summary.completion_tokens += result.completion_tokens
        summary.wall_s += result.wall_s
        if hidden is not None:
            summary.hidden_tasks += 1
            summary.hidden_solved += hidden
        summary.library_size = size
        if on_row:
            on_row(row)
    return summary


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
    lines += ["", "## Environment", "", "```json", json.dumps(env, indent=1), "```", ""]
    plots = _plots(directory, summaries)
    lines += [f"![{p.stem}]({p.name})" for p in plots]
    report = directory / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report


def _plots(directory: Path, summaries: list[ConfigSummary]) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    for key, title, ylabel in (("solved", "cumulative solved", "tasks solved"),
                               ("llm_calls", "LLM calls per task", "calls"),
                               ("library_size", "library size", "modules")):
        fig, ax = plt.subplots(figsize=(7, 4))
        for s in summaries:
            if key == "solved":
                ys, total = [], 0
                for row in s.rows:
                    total += row.status == "solved"
                    ys.append(total)
            else:
                ys = [getattr(row, key) for row in s.rows]
            ax.plot(range(1, len(ys) + 1), ys, label=s.config, marker="." if key != "solved" else None)
        ax.set_title(title)
        ax.set_xlabel("task")
        ax.set_ylabel(ylabel)
        ax.legend()
        path = directory / f"{key}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        made.append(path)
    return made
