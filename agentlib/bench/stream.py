"""A task stream solved three ways — with a growing library, without one, and without one at
equal compute — and compared with bootstrap intervals over tasks, per stream and per family.

Configurations (the same LLM and settings; each starts from nothing):
- `agent`          the full agent with a library that grows over the stream (retrieve, reuse,
                   store, insights, repair);
- `no-library`     the same agent with neither retrieval nor storing (`--no-library`);
- `equal-compute`  no library **at equal compute**: the stream gets as many LLM calls as
                   `agent` spent on it in total, split over the tasks as evenly as possible
                   (every task at least one; `split_budget`). A task's calls are spent as
                   independent samples, each one plain agent attempt without library, repair
                   or reflection: the first greedy (exactly the no-library first attempt), the
                   others at `temperature` (default: the `repair_temperature` setting) with
                   seeds 1, 2, … The selected program is the first sample that passes the
                   visible tests (execution-based selection; if none does, the last sample).
                   Drawing stops at the first passing sample, since later samples could not
                   change the selection, so a task spends at most its budget; the report gives
                   both the budget and what was spent.

The sampling loop lives here, on the public `Agent` API: a wrapper LLM gives each call the
sample's temperature and seed.

Reported per configuration, over all tasks and per family: hidden-test passes (% of tasks whose
selected program passes the visible and the held-back tests), LLM calls, prompt + completion
tokens and wall time (totals; the one-off library and embedder start-up is reported apart as
`setup_s`), each with a seeded bootstrap 90% interval over tasks (2000
resamples); paired intervals for agent − no-library and agent − equal-compute; and how many
restated tasks (`restates` in the stream file) the agent reused with zero LLM calls.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from agentlib.bench.bootstrap import LEVEL, RESAMPLES, SEED, bootstrap_difference, bootstrap_total
from agentlib.bench.tasks import ConfigSummary, TaskRow, hidden_passes, run_config, sum_counts
from agentlib.config import Settings
from agentlib.errors import TaskFormatError
from agentlib.model import Task

METRICS = ("hidden", "llm_calls", "tokens", "wall_s")
DIFFERENCES = (("agent", "no-library"), ("agent", "equal-compute"))


@dataclass
class StreamTask:
    """A task of a stream with its place in it: family, the task it restates, what it uses."""

    task: Task
    family: str
    restates: str | None = None
    uses: list[str] = field(default_factory=list)


@dataclass
class StreamRun:
    """Every configuration's rows over one stream."""

    source: str
    tasks: list[StreamTask]
    summaries: list[ConfigSummary]
    budgets: list[int] | None = None


def read_stream(path: str | Path, limit: int | None = None) -> list[StreamTask]:
    """Read a task file with its stream metadata (`family`, `restates`, `uses`)."""
    from agentlib.agent.taskfile import read_tasks

    path = Path(path)
    lines = list(read_tasks(path))
    bad = [line.error for line in lines if line.task is None]
    if bad:
        raise TaskFormatError(f"{len(bad)} malformed task(s) in {path}; first: {bad[0]}")
    with path.open(encoding="utf-8") as handle:  # numbered as read_tasks numbers them
        raw = handle.readlines()
    out = []
    for line in lines[:limit] if limit else lines:
        record = json.loads(raw[line.line - 1])
        family = record.get("family") or line.id.rsplit("-", 1)[0]
        out.append(StreamTask(line.task, str(family), record.get("restates"),
                              list(record.get("uses") or [])))
    return out


def split_budget(total: int, tasks: int) -> list[int]:
    """Split `total` LLM calls over `tasks` tasks as evenly as possible, each at least one.

    The remainder's extra calls are spread along the stream (Bresenham), not heaped at its
    start; with fewer calls than tasks every task still gets one.
    """
    if tasks <= 0:
        return []
    base, extra = divmod(max(total, tasks), tasks)
    return [base + (i + 1) * extra // tasks - i * extra // tasks for i in range(tasks)]


class SamplingLLM:
    """Wrap an LLM: calls that choose no temperature get the current sample's temperature and
    seed (temperature 0: passed through unchanged, i.e. greedy)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", str(inner))
        self.temperature = 0.0
        self.seed = 0

    def complete(self, messages: list[dict[str, str]], **options: Any) -> Any:
        if self.temperature > 0 and "temperature" not in options:
            options.update(temperature=self.temperature, seed=self.seed)
        return self.inner.complete(messages, **options)


def run_equal_compute(tasks: list[Task], budgets: list[int], llm: Any, base: Settings,
                      temperature: float,
                      on_row: Callable[[TaskRow], None] | None = None) -> ConfigSummary:
    """Spend each task's budget on independent samples without library; select by the tests."""
    from agentlib.agent import Agent

    sampler = SamplingLLM(llm)
    agent = Agent(Settings(**{**asdict(base), "use_library": False, "attempts": 1,
                              "cross_check": "never"}), llm=sampler)
    summary = ConfigSummary(config="equal-compute")
    for task, budget in zip(tasks, budgets, strict=True):
        calls = prompt_tokens = completion_tokens = samples = 0
        wall = 0.0
        kinds: list[dict[str, int]] = []
        for k in range(budget):
            sampler.temperature, sampler.seed = (0.0, 0) if k == 0 else (temperature, k)
            result = agent.solve(task)
            samples += 1
            calls += result.llm_calls
            kinds.append(result.calls_by_kind)
            prompt_tokens += result.prompt_tokens
            completion_tokens += result.completion_tokens
            wall += result.wall_s
            if result.status == "solved" or calls >= budget:
                break
        solved = result.status == "solved"
        hidden = (solved and hidden_passes(result.program, task.hidden_tests)
                  if task.hidden_tests else None)
        row = TaskRow(config=summary.config, id=task.id, status=result.status,
                      decision=result.decision, llm_calls=calls, prompt_tokens=prompt_tokens,
                      completion_tokens=completion_tokens, wall_s=round(wall, 3),
                      attempts=samples, hidden=hidden, library_size=0, error=result.error,
                      budget=budget, calls_by_kind=sum_counts(kinds))
        summary.add(row)
        if on_row:
            on_row(row)
    return summary


def run_stream(source: str, tasks: list[StreamTask], llm: Any, base: Settings, *,
               equal_compute: bool = True, temperature: float | None = None,
               on_row: Callable[[TaskRow], None] | None = None) -> StreamRun:
    """Solve the stream with a library, without one and (optionally) without one at equal
    compute; every configuration starts from an empty library."""
    plain = [t.task for t in tasks]
    with tempfile.TemporaryDirectory(prefix="agentlib-bench-") as tmp:
        summaries = [run_config(name, plain, llm, base, Path(tmp), on_row)
                     for name in ("agent", "no-library")]
    budgets = None
    if equal_compute:
        budgets = split_budget(summaries[0].llm_calls, len(plain))
        t = base.repair_temperature if temperature is None else temperature
        summaries.append(run_equal_compute(plain, budgets, llm, base, t, on_row))
    for summary in summaries:
        for row, item in zip(summary.rows, tasks, strict=True):
            row.family = item.family
    return StreamRun(source, tasks, summaries, budgets)


def _values(rows: list[TaskRow], metric: str) -> list[float]:
    if metric == "hidden":
        return [float(bool(r.hidden)) for r in rows if r.hidden is not None]
    if metric == "tokens":
        return [float(r.prompt_tokens + r.completion_tokens) for r in rows]
    return [float(getattr(r, metric)) for r in rows]


def _interval(values: list[float], metric: str, **options) -> dict[str, float]:
    scale = 100.0 if metric == "hidden" else None  # hidden: percent of tasks; others: totals
    return asdict(bootstrap_total(values, scale=scale, **options))


def _config_figures(summary: ConfigSummary, rows: list[TaskRow], **options) -> dict[str, Any]:
    hidden = [r.hidden for r in rows if r.hidden is not None]
    out: dict[str, Any] = {
        "tasks": len(rows), "solved": sum(r.status == "solved" for r in rows),
        "reused": sum(r.decision == "reused" for r in rows),
        "hidden_passed": sum(hidden), "hidden_tasks": len(hidden),
        "prompt_tokens": sum(r.prompt_tokens for r in rows),
        "completion_tokens": sum(r.completion_tokens for r in rows),
        "calls_by_kind": sum_counts([r.calls_by_kind for r in rows]), "setup_s": summary.setup_s}
    for metric in METRICS:
        out[metric] = _interval(_values(rows, metric), metric, **options)
    if summary.config == "equal-compute":
        out["budget"] = sum(r.budget or 0 for r in rows)
        out["spent"] = sum(r.llm_calls for r in rows)
        out["samples"] = sum(r.attempts for r in rows)
    return out


def _group_figures(by_config: dict[str, ConfigSummary], index: list[int],
                   **options) -> dict[str, Any]:
    configs = {name: _config_figures(s, [s.rows[i] for i in index], **options)
               for name, s in by_config.items()}
    differences = {}
    for a, b in DIFFERENCES:
        if a in by_config and b in by_config:
            rows_a = [by_config[a].rows[i] for i in index]
            rows_b = [by_config[b].rows[i] for i in index]
            diff = {}
            for metric in METRICS:
                scale = 100.0 if metric == "hidden" else None
                diff["hidden_points" if metric == "hidden" else metric] = asdict(
                    bootstrap_difference(_values(rows_a, metric), _values(rows_b, metric),
                                         scale=scale, **options))
            differences[f"{a} - {b}"] = diff
    return {"tasks": len(index), "configs": configs, "differences": differences}


def stream_figures(run: StreamRun, *, resamples: int = RESAMPLES, level: float = LEVEL,
                   seed: int = SEED) -> dict[str, Any]:
    """The stream's figures as plain JSON-able data (see the module docstring)."""
    options = {"resamples": resamples, "level": level, "seed": seed}
    by_config = {s.config: s for s in run.summaries}
    out: dict[str, Any] = {"stream": run.source, "bootstrap": options,
                           **_group_figures(by_config, list(range(len(run.tasks))), **options)}
    families: dict[str, list[int]] = {}
    for i, item in enumerate(run.tasks):
        families.setdefault(item.family, []).append(i)
    out["families"] = {name: _group_figures(by_config, index, **options)
                       for name, index in families.items()}
    restated = [i for i, item in enumerate(run.tasks) if item.restates]
    agent = by_config.get("agent")
    if agent is not None:
        missed = [agent.rows[i].id for i in restated
                  if not (agent.rows[i].decision == "reused" and agent.rows[i].llm_calls == 0)]
        out["restated_reused"] = {"reused": len(restated) - len(missed),
                                  "restated": len(restated), "missed": missed}
    bare = by_config.get("no-library")
    if agent is not None and bare is not None:
        out["calls_ratio"] = agent.llm_calls / bare.llm_calls if bare.llm_calls else None
    return out
