"""Programs built from library modules with some of them replaced.

Everything here sits on the public `Library` API (`get`, `list`, `dependents`).
"""

from __future__ import annotations

from collections.abc import Mapping

from agentlib.code import module_closure
from agentlib.model import Module, TestCase, Verdict
from agentlib.sandbox import Limits, cases_from, run


def source_lines(source: str) -> int:
    """Count the non-blank lines of a source text."""
    return sum(1 for line in source.splitlines() if line.strip())


def library_lines(modules: list[Module]) -> int:
    return sum(source_lines(m.source) for m in modules)


def closure(library, root: Module, overrides: Mapping[str, Module] | None = None) -> list[Module]:
    """Return `root`'s dependency closure in topological order, `overrides` replacing names."""
    overrides = overrides or {}
    return module_closure(root, lambda name: overrides.get(name) or library.get(name))



def run_stored_tests(program: str, module: Module, limits: Limits | None = None) -> Verdict:
    """Run a module's stored tests against `program` in the sandbox."""
    cases: list[TestCase] = cases_from(module.tests)
    return run(program, cases, limits)


def first_failure(verdict: Verdict) -> str:
    if verdict.passed:
        return ""
    if not verdict.failures:
        return f"{verdict.ended}: {verdict.detail[:200]}"
    failed = verdict.failures[0]
    message = failed.message.splitlines()[0] if failed.message else ""
    return f"{failed.test}: {failed.error_type}: {message}"[:300]
