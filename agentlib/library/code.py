"""Static facts about Python source: normalised form, content id, signature, calls."""

from __future__ import annotations

import ast
import hashlib


def normalise(source: str) -> str:
    """Return the source re-printed by `ast` (comments and layout do not change the id)."""
    return ast.unparse(ast.parse(source))


def module_id(source: str) -> str:
    """Return the content hash that identifies a module's code."""
    return hashlib.sha256(normalise(source).encode()).hexdigest()[:16]


def find_function(source: str, name: str) -> ast.FunctionDef | None:
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


def signature(source: str, name: str) -> str:
    """Return `name(args) -> ret` as written in the source."""
    node = find_function(source, name)
    if node is None:
        return f"{name}(...)"
    text = f"{name}({ast.unparse(node.args)})"
    return text + (f" -> {ast.unparse(node.returns)}" if node.returns else "")


def docstring(source: str, name: str) -> str:
    node = find_function(source, name)
    return (ast.get_docstring(node) or "") if node else ""


def called_names(source: str) -> set[str]:
    """Return the plain names the source calls (`f(...)`, not `x.f(...)`)."""
    return {node.func.id for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}


def defined_functions(source: str) -> list[str]:
    return [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]


def arity(source: str, name: str) -> tuple[int, int | None]:
    """Return (required, maximum) positional arguments; maximum None for *args."""
    node = find_function(source, name)
    if node is None:
        return (0, None)
    args = node.args
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    return (required, None if args.vararg else positional)
