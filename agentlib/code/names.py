"""Which names code needs from outside: free names, calls in tests, library dependencies.

`dependencies` is the one rule for "which library modules does this source use": a name
counts when the source reads it without binding it itself (a nested helper, a local
variable, a parameter or an import of the same name is not a use of the library's).
"""

from __future__ import annotations

import ast
import builtins
from typing import Iterable, Iterator

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def names_used(node: ast.AST) -> set[str]:
    """Return every plain name in `node`, read or written."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def free_names(node: ast.AST) -> set[str]:
    """Return the names a definition reads but does not bind itself: what it needs from outside.

    A local variable that happens to share a library function's name (`word_counts =
    Counter(words)`) is not a call of that function. For a statement that is not a function,
    every name in it counts.
    """
    if not isinstance(node, FUNCTIONS):
        return names_used(node)
    nodes = list(ast.walk(node))
    bound = {a.arg for a in nodes if isinstance(a, ast.arg)}
    bound |= {n.id for n in nodes if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    bound |= {n.name for n in nodes if n is not node and isinstance(n, (*FUNCTIONS, ast.ClassDef))}
    bound |= {(a.asname or a.name).split(".")[0] for n in nodes
              if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    bound -= {name for n in nodes if isinstance(n, ast.Global) for name in n.names}
    return {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - bound


def top_level_bound(tree: ast.Module) -> set[str]:
    """Return the names a module binds at its top level (definitions, imports, assignments)."""
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, (*FUNCTIONS, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bound |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return bound


def external_names(source: str) -> set[str]:
    """Return the names `source` reads without defining them (builtins included).

    Raises SyntaxError when the source does not parse.
    """
    tree = ast.parse(source)
    used = set().union(*(free_names(node) for node in tree.body)) if tree.body else set()
    return used - top_level_bound(tree)


def dependencies(source: str, available: Iterable[str]) -> list[str]:
    """Return the names among `available` that `source` uses without defining them, sorted.

    Raises SyntaxError when the source does not parse.
    """
    return sorted(external_names(source) & set(available))


def dependency_problems(source: str, declared: Iterable[str], available: Iterable[str],
                        name: str = "the module") -> list[str]:
    """Say what is wrong with a declared dependency list ([]: nothing).

    A declared name must be among `available` (the library's modules) and must be one
    `dependencies(source, ...)` finds: a name the source defines itself, or never reads, is
    not a dependency. Names the source uses but `declared` leaves out are not a problem:
    `dependencies` adds them.
    """
    available = set(available)
    try:
        found = set(dependencies(source, available))
    except SyntaxError as exc:
        return [f"{name}: the source does not parse ({exc}); only verified, parseable code "
                "can be stored"]
    problems = []
    for dep in declared:
        if dep not in available:
            problems.append(f"{name} calls {dep}, which is not an active module in the "
                            f"library; store {dep} first")
        elif dep not in found:
            problems.append(f"{name} lists {dep} as a dependency, but its source does not "
                            f"use it (it defines {dep} itself, or never reads it)")
    return problems


def named_calls(tests: list[str]) -> Iterator[ast.Call]:
    """Yield every call of a plain name (`f(...)`) in the tests that parse, in order."""
    for test in tests:
        try:
            tree = ast.parse(test)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                yield node


def infer_entry_point(tests: list[str]) -> str | None:
    """Return the first non-builtin function the tests call."""
    for call in named_calls(tests):
        if not hasattr(builtins, call.func.id):
            return call.func.id
    return None
