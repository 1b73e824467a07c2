"""A quick look at a task's tests before any LLM call: refuse tests no function can pass.

Two kinds are refused, read from the tests' syntax alone (nothing runs):
- a test that calls no function but builtins (`assert 1 == 1`, `assert f == 2`,
  `assert len([1]) == 1`): it checks nothing the model could write;
- two tests that expect different literal values from the same call with literal arguments
  (`assert sq(2) == 4` and `assert sq(2) == 5`), with the same setup code.
A call without arguments is never compared (`next_id()` may rightly answer 1, then 2).
"""

from __future__ import annotations

import ast
import builtins
from typing import Any

from agentlib.code import named_calls
from agentlib.errors import TaskFormatError
from agentlib.model import TestCase

_NOT_LITERAL = object()


def check_tests(tests: list[TestCase], where: str = "the task",
                entry_point: str | None = None) -> None:
    """Raise TaskFormatError naming the first test that calls nothing or contradicts another.

    `entry_point` counts as a function even where it shadows a builtin (a task may ask for
    its own `max`).
    """
    expected: dict[tuple[str, str], tuple[Any, str]] = {}
    for test in tests:
        try:
            tree = ast.parse(test.source)
        except SyntaxError:
            continue  # the sandbox reports it as that test's failure
        if all(hasattr(builtins, call.func.id) and call.func.id != entry_point
               for call in named_calls([test.source])):
            raise TaskFormatError(f"{where}: test {test.source!r} calls no function (builtins "
                                  "aside), so it checks nothing; write it as "
                                  "`assert f(...) == ...`")
        for call, value in literal_expectations(tree):
            key = (test.setup, call)
            if key in expected and not _same(expected[key][0], value):
                raise TaskFormatError(
                    f"{where}: tests {expected[key][1]!r} and {test.source!r} expect different "
                    f"values from the same call {call}; no function passes both, fix one")
            expected.setdefault(key, (value, test.source))


def literal_expectations(tree: ast.Module) -> list[tuple[str, Any]]:
    """Return (call text, expected value) of each `assert CALL == LITERAL` in `tree`."""
    found = []
    for node in tree.body:
        if not isinstance(node, ast.Assert) or not isinstance(node.test, ast.Compare):
            continue
        compare = node.test
        if len(compare.ops) != 1 or not isinstance(compare.ops[0], ast.Eq):
            continue
        for call, other in ((compare.left, compare.comparators[0]),
                            (compare.comparators[0], compare.left)):
            if _literal_call(call):
                value = _literal(other)
                if value is not _NOT_LITERAL:
                    found.append((ast.unparse(call), value))
                break
    return found


def _literal_call(node: ast.AST) -> bool:
    """A call of a plain name with at least one argument, every argument a literal."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        return False
    arguments = list(node.args) + [k.value for k in node.keywords]
    return bool(arguments) and all(k.arg is not None for k in node.keywords) and all(
        _literal(a) is not _NOT_LITERAL for a in arguments)


def _literal(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOT_LITERAL


def _same(a: Any, b: Any) -> bool:
    """Whether one value can equal both (Python's ==, so 1 and 1.0 agree)."""
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - a comparison that fails proves nothing
        return True
