"""Rewriting names in code: rename a function, unshadow locals, drop local copies.

Everything here works on the `ast`; no code is run.
"""

from __future__ import annotations

import ast

from agentlib.code.names import FUNCTIONS


def rename(node: ast.AST, old: str, new: str) -> ast.AST:
    """Rename the function `old` to `new` in `node` (its definitions and every use); return it."""
    for child in ast.walk(node):
        if isinstance(child, FUNCTIONS) and child.name == old:
            child.name = new
        elif isinstance(child, ast.Name) and child.id == old:
            child.id = new
    return node


def rename_source(source: str, old: str, new: str) -> str:
    """Return `source` with the function `old` renamed to `new` (re-printed by `ast`)."""
    return ast.unparse(rename(ast.parse(source), old, new)) + "\n"


def unshadow_locals(node: ast.stmt, functions: set[str]) -> list[str]:
    """Rename the local variables of `node` that hide a function it calls; return their names.

    `counts = counts(text)` makes `counts` local to the whole function, so the call raises
    UnboundLocalError whatever else the function does. Small models write it when they call a
    library function and keep the result under the function's name. Only a name that is
    called no later than its first assignment is renamed (the code could not run otherwise);
    the local becomes `<name>_value` and the calls reach the function again.
    """
    if not isinstance(node, FUNCTIONS):
        return []
    args = node.args
    params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    nodes = list(ast.walk(node))
    declared = {n for s in nodes if isinstance(s, (ast.Global, ast.Nonlocal)) for n in s.names}
    names = [n for n in nodes if isinstance(n, ast.Name)]
    callees = {id(c.func) for c in nodes if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
    taken = {n.id for n in names} | params
    renamed = []
    for name in sorted(functions - params - declared - {node.name}):
        same = [n for n in names if n.id == name]
        calls = [n.lineno for n in same if id(n) in callees]
        stores = [n.lineno for n in same if isinstance(n.ctx, ast.Store)]
        if not calls or not stores or min(calls) > min(stores):
            continue
        new = f"{name}_value"
        while new in taken:
            new += "_"
        taken.add(new)
        for n in same:
            if id(n) not in callees:
                n.id = new
        renamed.append(name)
    return renamed


def drop_shadowing(source: str, name: str, library_names: set[str]) -> tuple[str, list[str]]:
    """Return `source` without its definitions of other library names, and those names.

    Looks at the module's top level and at its function's own body (one level down). Dead
    code goes too: nested functions the function never uses ("name (unused)") and imports
    nothing reads ("import x (unused)").
    """
    tree = ast.parse(source)
    shadows = library_names - {name}
    dropped: list[str] = []

    def keep(node: ast.stmt) -> bool:
        if isinstance(node, ast.FunctionDef) and node.name in shadows:
            dropped.append(node.name)
            return False
        return True

    tree.body = [n for n in tree.body if keep(n)]
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            body = [n for n in node.body if keep(n)]
            dead = _dead_helpers(body)
            while dead:  # a helper only a dead helper used is dead next round
                dropped.extend(f"{n.name} (unused)" for n in dead)
                body = [n for n in body if n not in dead]
                dead = _dead_helpers(body)
            node.body = body or [ast.Pass()]
    tree.body = [n for n in tree.body if not _unused_import(n, _names_read(tree.body), dropped)]
    if not dropped:
        return source, []
    return ast.unparse(tree) + "\n", sorted(set(dropped))


def _dead_helpers(body: list[ast.stmt]) -> list[ast.FunctionDef]:
    return [n for n in body if isinstance(n, ast.FunctionDef)
            and n.name not in _names_read([m for m in body if m is not n])]


def _names_read(nodes: list[ast.stmt]) -> set[str]:
    """Names read anywhere in `nodes` (attribute bases included: `math` in `math.pi`)."""
    return {n.id for node in nodes for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _unused_import(node: ast.stmt, used: set[str], dropped: list[str]) -> bool:
    """True (and noted in `dropped`) for an import none of whose names is read."""
    if not isinstance(node, (ast.Import, ast.ImportFrom)):
        return False
    if isinstance(node, ast.ImportFrom) and node.module == "__future__":
        return False
    bound = [(a.asname or a.name).split(".")[0] for a in node.names]
    if "*" in bound or any(b in used for b in bound):
        return False
    dropped.append(f"import {', '.join(bound)} (unused)")
    return True
