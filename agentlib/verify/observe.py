"""Read what the tests show of the entry point: its literal argument tuples and results.

Only the tests' text is parsed (trusted, never run). A call counts when every argument is a
literal; the first call's shape (number of positional arguments, keyword names) is the one
kept, so every example has the same slots.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agentlib.model import TestCase
from agentlib.sandbox.prepare import is_doctest, parse_doctest

NO_VALUE = object()


def literal(node: ast.AST | None) -> Any:
    """The value of a literal expression, or NO_VALUE."""
    if node is None:
        return NO_VALUE
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return NO_VALUE


@dataclass
class Observed:
    """The literal calls of the entry point in the tests, and the results they expect."""

    entry_point: str
    examples: list[tuple] = field(default_factory=list)
    """Argument tuples: positional values, then keyword values in `keywords` order."""
    keywords: tuple[str, ...] = ()
    expected: list[Any] = field(default_factory=list)
    """Literal results the tests compare a call with (`== lit`, `is lit`, doctest output)."""

    @property
    def positional(self) -> int:
        return len(self.examples[0]) - len(self.keywords) if self.examples else 0


def test_sources(tests: Sequence[str | TestCase]) -> list[str]:
    """The source text of each test."""
    return [t.source if isinstance(t, TestCase) else t for t in tests]


def _statements(source: str) -> list[tuple[ast.AST, Any]]:
    """(parsed test expression, its doctest output literal or NO_VALUE) for one test."""
    if is_doctest(source):
        found = []
        for example in parse_doctest(source):
            try:
                node = ast.parse(example.source, mode="eval").body
            except SyntaxError:
                continue
            want = NO_VALUE
            if example.want.strip():
                try:
                    want = literal(ast.parse(example.want.strip(), mode="eval").body)
                except SyntaxError:
                    want = NO_VALUE
            found.append((node, want))
        return found
    try:
        return [(ast.parse(source), NO_VALUE)]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []


def observe(tests: Sequence[str | TestCase], entry_point: str) -> Observed:
    """Collect the literal argument tuples and expected results of calls to `entry_point`."""
    seen = Observed(entry_point)
    shape: tuple[int, tuple[str, ...]] | None = None
    keys: set[str] = set()
    for source in test_sources(tests):
        for tree, want in _statements(source):
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id == entry_point):
                    continue
                args = [literal(a) for a in node.args]
                kwargs = [(k.arg, literal(k.value)) for k in node.keywords]
                if NO_VALUE in args or any(k is None or v is NO_VALUE for k, v in kwargs):
                    continue
                this = (len(args), tuple(k for k, _ in kwargs))
                shape = shape or this
                values = tuple(args + [v for _, v in kwargs])
                if this != shape or not values or repr(values) in keys:
                    continue
                keys.add(repr(values))
                seen.keywords = this[1]
                seen.examples.append(values)
            if want is not NO_VALUE and _calls_entry(tree, entry_point):
                seen.expected.append(want)
            elif isinstance(tree, ast.Module) and tree.body and isinstance(tree.body[0],
                                                                           ast.Assert):
                seen.expected.extend(_expected_results(tree.body[0].test, entry_point))
    return seen


def _calls_entry(node: ast.AST, entry_point: str) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == entry_point)


def _expected_results(test: ast.expr, entry_point: str) -> list[Any]:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], (ast.Eq, ast.Is))):
        return []
    left, right = test.left, test.comparators[0]
    for call, other in ((left, right), (right, left)):
        if _calls_entry(call, entry_point):
            value = literal(other)
            return [] if value is NO_VALUE else [value]
    return []
