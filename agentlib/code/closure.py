"""The one dependency closure: the modules a program needs, dependencies first, each once."""

from __future__ import annotations

from typing import Callable, Iterable

from agentlib.errors import StoreError
from agentlib.model import Module

Resolve = Callable[[str], "Module | None"]
"""Name -> the module to use for it (None: there is none)."""


class DependencyError(StoreError):
    """A dependency is missing or the dependencies form a cycle."""


def dependency_closure(names: Iterable[str], resolve: Resolve, *,
                       needed_by: str = "") -> list[Module]:
    """Return the modules `names` need, in topological order (dependencies first), each once.

    `needed_by` is the name of the code that calls `names` (a module reaching it again is a
    cycle). Raises DependencyError for a name `resolve` does not know, or a cycle.
    """
    order: list[Module] = []
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise DependencyError(f"dependency cycle: {' -> '.join(path + (name,))}")
        if name in done:
            return
        module = resolve(name)
        if module is None:
            user = path[-1] if path else "the program"
            raise DependencyError(f"{user} depends on {name}, which is not an active module; "
                                  f"restore it (`agentlib lib import`) or re-solve {user}")
        for dep in module.dependencies:
            visit(dep, path + (name,))
        done.add(name)
        order.append(module)

    for name in names:
        visit(name, (needed_by,) if needed_by else ())
    return order


def module_closure(module: Module, resolve: Resolve) -> list[Module]:
    """Return `module`'s dependency closure followed by `module` itself."""
    return dependency_closure(module.dependencies, resolve, needed_by=module.name) + [module]


def program_source(modules: list[Module]) -> str:
    """Join module sources (each name once, first occurrence wins) into one program."""
    seen: set[str] = set()
    parts = []
    for module in modules:
        if module.name not in seen:
            seen.add(module.name)
            parts.append(module.source.strip())
    return "\n\n".join(parts) + "\n"


def candidate_program(source: str, dependencies: list[str], resolve: Resolve) -> str:
    """Return a candidate preceded by the self-contained source of the modules it calls.

    Each direct dependency brings its own closure (the modules an earlier one brought are not
    repeated); a direct dependency `resolve` does not know is left out, so the candidate's
    own run reports the missing name.
    """
    done: set[str] = set()
    groups = []
    for dep in dependencies:
        module = resolve(dep)
        if module is None:
            continue
        group = [m for m in module_closure(module, resolve) if m.name not in done]
        done |= {m.name for m in group}
        if group:
            groups.append(program_source(group))
    return "\n\n".join(groups + [source])
