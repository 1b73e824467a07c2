"""Refactor benchmark: grow a library from task streams, maintain a copy, compare the two.

1. Grow: an empty library solves the grow tasks in order (the agent as configured).
2. Copy it and maintain the copy step by step — `refactor` (helpers, with an LLM budget),
   `dedup` (behavioural merge), and, when asked, `prune` on a further copy — measuring after
   each step: active modules, lines of code, modules calling a helper or any library module,
   stored tests run and passed.
3. Re-run the later tasks against a copy of each library (unmaintained, maintained, and
   maintained+pruned), side by side: solved, reused, LLM calls.

`agentlib bench refactor` prints the figures; `--report DIR` also writes them as JSON.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable

from agentlib.config import Settings
from agentlib.model import Task


def _tally(results: list[Any]) -> dict[str, int]:
    return {"tasks": len(results), "solved": sum(r.status == "solved" for r in results),
            "reused": sum(r.decision == "reused" for r in results),
            "llm_calls": sum(r.llm_calls for r in results)}


def grow_library(tasks: list[Task], llm: Any, settings: Settings, store: Path,
                 on_task: Callable[[int, Task, Any], None] | None = None) -> dict[str, int]:
    """Solve `tasks` in order into a fresh library at `store`; return the totals.

    `on_task(i, task, result)` is called after the i-th task (from 1).
    """
    from agentlib.agent import Agent

    agent = Agent(replace(settings, store=str(store), use_library=True), llm=llm)
    results = []
    for i, task in enumerate(tasks, 1):
        results.append(agent.solve(task))
        if on_task:
            on_task(i, task, results[-1])
    return {**_tally(results), "library_modules": agent.library.count()}


def maintain(library: Any, llm: Any, *, budget: int, pruned_copy: Any = None,
             on_step: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Refactor and dedup `library`; figures after each step.

    `pruned_copy`, when given, is called with no argument after dedup and returns a copy of
    the library to prune (so the later tasks can be re-run with and without pruning).
    """
    from agentlib.refactor import dedup, measure, prune, refactor_library

    steps: dict[str, Any] = {}

    def step(name: str, lib: Any) -> None:
        if on_step:
            on_step(name)
        steps[name] = asdict(measure(lib))

    step("before", library)
    report = refactor_library(library, llm, budget=budget)
    step("refactor", library)
    merges = dedup(library)
    step("dedup", library)
    decisions = []
    if pruned_copy is not None:
        copy = pruned_copy()
        decisions = [d for d in prune(copy) if d.pruned]
        step("prune", copy)
    return {"steps": steps, "refactor": report.to_dict(),
            "merges": [asdict(m) for m in merges], "pruned": [asdict(d) for d in decisions]}


def rerun(stores: dict[str, Path], tasks: list[Task], llm: Any, settings: Settings,
          workdir: Path) -> dict[str, dict[str, int]]:
    """Solve `tasks` against a copy of each library (the libraries are not changed)."""
    from agentlib.agent import Agent

    figures: dict[str, dict[str, int]] = {}
    for label, store in stores.items():
        copy = workdir / f"rerun-{label}"
        shutil.copytree(store, copy)
        agent = Agent(replace(settings, store=str(copy), use_library=True), llm=llm)
        figures[label] = _tally([agent.solve(task) for task in tasks])
    return figures


def refactor_benchmark(grow_tasks: list[Task], later_tasks: list[Task], llm: Any,
                       settings: Settings, workdir: Path, *, budget: int = 5,
                       prune_too: bool = False,
                       on_progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Grow, maintain a copy, re-run the later tasks on both; return every figure."""
    from agentlib.runtime import Runtime

    say = on_progress or (lambda _text: None)
    unmaintained, maintained = workdir / "unmaintained", workdir / "maintained"
    pruned = workdir / "pruned"

    def on_task(i: int, task: Task, result: Any) -> None:
        say(f"grow {i}/{len(grow_tasks)}: {task.id} {result.status}")

    grown = grow_library(grow_tasks, llm, settings, unmaintained, on_task)
    shutil.copytree(unmaintained, maintained)
    library = Runtime(replace(settings, store=str(maintained))).open_library()

    def pruned_copy() -> Any:
        shutil.copytree(maintained, pruned)
        return Runtime(replace(settings, store=str(pruned))).open_library()

    maintenance = maintain(library, llm, budget=budget,
                           pruned_copy=pruned_copy if prune_too else None,
                           on_step=lambda name: say(f"measure: {name}"))
    stores = {"unmaintained": unmaintained, "maintained": maintained}
    if prune_too:
        stores["maintained+pruned"] = pruned
    say(f"re-run {len(later_tasks)} later task(s) on {len(stores)} libraries")
    later = rerun(stores, later_tasks, llm, settings, workdir)
    return {"grow": grown, **maintenance, "later": later}
