"""What a program binds at its top level, and which of those bindings a test must not meet.

A test's builtins, modules and setup names are evaluated by the trusted harness with the real
objects, so a program that rebinds one (`def set`, `abs = lambda …`, `class math`, `for
sorted in …`) cannot change what the test computes. It could still make a test mean nothing:
`def sorted` and `assert sorted(x) == …` — is that the program's function or the builtin? Such
a program is refused for that test (`shadowing`), with the binding's line.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class Binding:
    """One name a program binds in its module scope."""

    name: str
    line: int
    how: str
    """def, class, assignment, for target, with target, except target, walrus, match,
    import or global."""
    target: str = ""
    """For an import: what the name is bound to ("math", "os.path", "math:sqrt")."""


def _imports(node: ast.Import | ast.ImportFrom) -> list[Binding]:
    found = []
    for alias in node.names:
        if isinstance(node, ast.Import):
            name = alias.asname or alias.name.split(".")[0]
            target = alias.name if alias.asname else name
        else:
            name = alias.asname or alias.name
            target = f"{'.' * node.level}{node.module or ''}:{alias.name}"
        found.append(Binding(name, node.lineno, "import", target))
    return found


def _how(statement: ast.stmt) -> str:
    if isinstance(statement, (ast.For, ast.AsyncFor)):
        return "for target"
    if isinstance(statement, (ast.With, ast.AsyncWith)):
        return "with target"
    return "assignment"


def _scope_nodes(statement: ast.stmt):
    """Yield the nodes of a top-level statement that run in the module's scope."""
    if isinstance(statement, _SCOPES):
        yield statement  # its name is bound here; its body runs elsewhere
        return
    stack: list[ast.AST] = [statement]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _SCOPES):
                yield child  # its name is bound here; its body runs elsewhere
            elif isinstance(child, _COMPREHENSIONS):  # only a walrus inside leaks out
                yield from (n for n in ast.walk(child) if isinstance(n, ast.NamedExpr))
            else:
                stack.append(child)


def top_level_bindings(source: str) -> list[Binding]:
    """Every binding of a name in the module scope of `source`, in source order."""
    tree = ast.parse(source)
    found: list[Binding] = []
    walrus_targets: set[int] = set()
    for statement in tree.body:
        for node in _scope_nodes(statement):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append(Binding(node.name, node.lineno, "def"))
            elif isinstance(node, ast.ClassDef):
                found.append(Binding(node.name, node.lineno, "class"))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                found.extend(_imports(node))
            elif isinstance(node, ast.NamedExpr):
                found.append(Binding(node.target.id, node.lineno, "walrus"))
                walrus_targets.add(id(node.target))
            elif isinstance(node, ast.ExceptHandler) and node.name:
                found.append(Binding(node.name, node.lineno, "except target"))
            elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
                found.append(Binding(node.name, node.lineno, "match"))
            elif isinstance(node, ast.MatchMapping) and node.rest:
                found.append(Binding(node.rest, node.lineno, "match"))
            elif (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
                  and id(node) not in walrus_targets):
                found.append(Binding(node.id, node.lineno, _how(statement)))
    for node in ast.walk(tree):  # `global x` anywhere binds x in the module when it runs
        if isinstance(node, ast.Global):
            found.extend(Binding(name, node.lineno, "global") for name in node.names)
    found.sort(key=lambda b: b.line)
    return found


def program_names(bindings: list[Binding]) -> set[str]:
    """Names whose values the program defines: its test calls are evaluated by the program."""
    return {b.name for b in bindings if b.how not in ("import", "global")}


def names_used(source: str) -> set[str]:
    """Every name `source` mentions."""
    return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}


def shadowing(bindings: list[Binding], used: set[str], setup: list[Binding],
              modules: set[str]) -> str | None:
    """Why the program may not be run against a test that uses `used`, or None.

    `setup` is what the test's setup binds, `modules` the standard-library modules the test
    names without binding them. An import that binds a name to the very module the test
    binds it to (`import math` in both) is no rebinding.
    """
    by_setup = {b.name: b for b in setup}
    for binding in bindings:
        name = binding.name
        if name not in used:
            continue
        if name in by_setup:
            theirs = by_setup[name]
            if binding.how == "import" and theirs.how == "import" and binding.target == theirs.target:
                continue
            meaning = "its setup's"
        elif name in modules:
            if binding.how == "import" and binding.target == name:
                continue
            meaning = "the module"
        elif hasattr(builtins, name):
            meaning = "the builtin"
        else:
            continue
        return (f"the program binds {name!r} at top level (line {binding.line}, "
                f"{binding.how}), which this test uses as {meaning} {name!r}; a test's "
                "builtins, modules and setup names always mean the real ones, so rename it "
                "in the program")
    return None
