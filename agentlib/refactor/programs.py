"""Programs built from library modules with some of them replaced.

Everything here sits on the public `Library` API (`get`, `list`, `dependents`).
"""

from __future__ import annotations

from collections.abc import Mapping

from agentlib.errors import StoreError
from agentlib.library.code import called_names, defined_functions
from agentlib.model import Module, TestCase, Verdict
from agentlib.sandbox import Limits, cases_from, run


def source_lines(source: str) -> int:
    """Count the non-blank lines of a source text."""
    return sum(1 for line in source.splitlines() if line.strip())


def library_lines(modules: list[Module]) -> int:
    return sum(source_lines(m.source) for m in modules)


def dependencies_of(source: str, available: set[str]) -> list[str]:
    """Return the names among `available` that `source` calls (not defining them itself)."""
    return sorted((called_names(source) - set(defined_functions(source))) & available)


def closure(library, root: Module, overrides: Mapping[str, Module] | None = None) -> list[Module]:
    """Return `root`'s dependency closure in topological order, `overrides` replacing names."""
    overrides = overrides or {}
    order: list[Module] = []
    seen: set[str] = set()

    def resolve(name: str) -> Module:
        module = overrides.get(name) or library.get(name)
        if module is None:
            raise StoreError(f"{name} is not an active module (needed by {root.name})")
        return module

    def visit(module: Module, path: tuple[str, ...]) -> None:
        if module.name in path:
            raise StoreError(f"dependency cycle: {' -> '.join(path + (module.name,))}")
        if module.name in seen:
            return
        for dep in module.dependencies:
            visit(resolve(dep), path + (module.name,))
        seen.add(module.name)
        order.append(module)

    visit(root, ())
    return order


def program_of(modules: list[Module]) -> str:
    """Join module sources (each name once, first occurrence wins) into one program."""
    seen: set[str] = set()
    parts = []
    for module in modules:
        if module.name not in seen:
            seen.add(module.name)
            parts.append(module.source.strip())
    return "\n\n".join(parts) + "\n"


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
