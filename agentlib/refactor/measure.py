"""Figures for the closing note: size of a library and whether its stored tests still pass."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from agentlib.errors import AgentlibError
from agentlib.llm import LLM
from agentlib.refactor.programs import first_failure, library_lines, run_stored_tests
from agentlib.refactor.records import Figures
from agentlib.sandbox import Limits


def helper_names(library) -> set[str]:
    """Return the active modules that `agentlib refactor` created as helpers."""
    return {m.name for m in library.list() if m.backend == "refactor" and
            m.task_id.startswith("refactor:")}


def measure(library, limits: Limits | None = None) -> Figures:
    """Count lines and modules calling a helper; run every active module's stored tests."""
    active = library.list()
    helpers = helper_names(library)
    figures = Figures(modules=len(active), lines=library_lines(active),
                      modules_calling_helper=sum(1 for m in active if set(m.dependencies) & helpers),
                      modules_calling_library=sum(1 for m in active if m.dependencies),
                      tests_run=0, tests_passed=0)
    for module in active:
        if not module.tests:
            continue
        try:
            verdict = run_stored_tests(library.program_for(module), module, limits)
        except AgentlibError as exc:  # a broken closure counts as failing, with its reason
            figures.tests_run += len(module.tests)
            figures.modules_failing.append(f"{module.name}: {exc}")
            continue
        figures.tests_run += len(verdict.results) or len(module.tests)
        figures.tests_passed += sum(r.passed for r in verdict.results)
        if not verdict.passed:
            figures.modules_failing.append(f"{module.name}: {first_failure(verdict)}")
    return figures


def measure_refactor(store: str | Path, copy_to: str | Path, llm: LLM, embedder,
                     *, budget: int = 5, dedup_too: bool = True) -> dict[str, Any]:
    """Copy the library at `store` to `copy_to`, refactor (and dedup) the copy, measure both.

    The original is left untouched, so the stream's later tasks can be re-run against each
    side by side. Returns {"before", "after": Figures, "refactor": report dict, "merges": [...]}.
    """
    from dataclasses import asdict

    from agentlib.library.store import Library
    from agentlib.refactor.dedup import dedup
    from agentlib.refactor.run import refactor_library

    shutil.copytree(store, copy_to)
    library = Library(str(copy_to), embedder)
    before = measure(library)
    report = refactor_library(library, llm, budget=budget)
    merges = dedup(library) if dedup_too else []
    after = measure(library)
    return {"before": asdict(before), "after": asdict(after), "refactor": report.to_dict(),
            "merges": [asdict(m) for m in merges]}


def compare_on_tasks(stores: dict[str, str | Path], tasks: list, llm: LLM, embedder,
                     workdir: str | Path) -> dict[str, dict[str, int]]:
    """Solve `tasks` against a copy of each library; return solved and LLM calls per label.

    The libraries themselves are not changed (each run works on a copy under `workdir`).
    """
    from agentlib.agent import Agent
    from agentlib.config import Settings
    from agentlib.library.store import Library

    figures: dict[str, dict[str, int]] = {}
    for label, store in stores.items():
        copy = Path(workdir) / label
        shutil.copytree(store, copy)
        library = Library(str(copy), embedder)
        agent = Agent(Settings(store=str(copy)), llm=llm, library=library)
        results = [agent.solve(task) for task in tasks]
        figures[label] = {"tasks": len(results),
                          "solved": sum(r.status == "solved" for r in results),
                          "reused": sum(r.decision == "reused" for r in results),
                          "llm_calls": sum(r.llm_calls for r in results)}
    return figures
