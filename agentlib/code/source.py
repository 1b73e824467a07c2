"""Static facts about one Python source text: normalised form, content id, signature."""

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
    """Return the top-level `def name` of the source, if any."""
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
    """Return the docstring of the top-level function `name` ("" when it has none)."""
    node = find_function(source, name)
    return (ast.get_docstring(node) or "") if node else ""


def defined_functions(source: str) -> list[str]:
    """Return the names of the source's top-level functions, in order."""
    return [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
