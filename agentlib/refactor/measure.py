"""Figures of a library: its size and whether its stored tests still pass
(`agentlib bench refactor` measures with these after each maintenance step)."""

from __future__ import annotations

from agentlib.errors import AgentlibError
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
