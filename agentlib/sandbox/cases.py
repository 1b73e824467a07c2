"""Build test cases from the forms tasks come in: asserts, (args, expected) pairs, doctests.

Every form becomes a `TestCase` whose source the sandbox judges in its trusted harness:
a pair becomes `assert f(<args>) == <expected>`, a doctest example stays a `>>>` example (one
case per example with output; the examples before it run first, as its setup).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agentlib.errors import TaskFormatError
from agentlib.model import TestCase
from agentlib.sandbox.prepare import parse_doctest


def python_literal(value: Any) -> str:
    """Return Python source that evaluates to `value` (built-in types only)."""
    if type(value) is float and not math.isfinite(value):
        return f"float({str(value)!r})"
    if type(value) is set and not value:
        return "set()"
    if type(value) in (list, tuple, set, frozenset, dict) and _has_special(value):
        raise TaskFormatError(f"{value!r} holds a value with no literal form (inf, nan or an "
                              "empty set inside a container); write the test as an assert")
    source = repr(value)
    try:
        rebuilt = ast.literal_eval(source)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        rebuilt = _NOT_LITERAL
    if rebuilt is _NOT_LITERAL or type(rebuilt) is not type(value) or rebuilt != value:
        raise TaskFormatError(f"{value!r} (a {type(value).__name__}) has no Python literal "
                              "form; pairs take built-in values only")
    return source


_NOT_LITERAL = object()


def _has_special(value: Any) -> bool:
    items = value.items() if isinstance(value, dict) else value
    for item in items:
        parts = item if isinstance(value, dict) else (item,)
        for part in parts:
            if type(part) is float and not math.isfinite(part):
                return True
            if type(part) is set and not part:
                return True
            if type(part) in (list, tuple, set, frozenset, dict) and _has_special(part):
                return True
    return False


def assert_case(source: str, setup: str = "") -> TestCase:
    """Build a case from one `assert …` statement, checking that it parses."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise TaskFormatError(f"test {source!r} is not valid Python (line {exc.lineno}: "
                              f"{exc.msg})") from exc
    if not tree.body:
        raise TaskFormatError("an empty test checks nothing")
    return TestCase(source, setup)


def pair_case(function: str, args: Sequence[Any] | Mapping[str, Any], expected: Any,
              setup: str = "") -> TestCase:
    """Build a case from an `(args, expected)` pair: `function(*args) == expected`.

    `args` is a sequence of positional arguments or a mapping of keyword arguments.
    """
    if not function.isidentifier():
        raise TaskFormatError(f"pair test: {function!r} is not a function name")
    if isinstance(args, Mapping):
        shown = ", ".join(f"{k}={python_literal(v)}" for k, v in args.items())
    elif isinstance(args, (list, tuple)):
        shown = ", ".join(python_literal(a) for a in args)
    else:
        raise TaskFormatError(f"pair test for {function}: args must be a list, tuple or dict, "
                              f"not {type(args).__name__} (wrap one argument as [value])")
    return TestCase(f"assert {function}({shown}) == {python_literal(expected)}", setup)


def pair_cases(function: str, pairs: Iterable[tuple[Any, Any]], setup: str = "") -> list[TestCase]:
    """Build one case per `(args, expected)` pair."""
    return [pair_case(function, args, expected, setup) for args, expected in pairs]


def doctest_cases(text: str, setup: str = "") -> list[TestCase]:
    """Build one case per `>>>` example that shows output; earlier examples run first."""
    examples = parse_doctest(text)
    if not examples:
        raise TaskFormatError(f"no `>>>` example in {text[:60]!r}")
    cases = []
    for i, example in enumerate(examples):
        if not example.want:
            continue
        before = "".join(_prompted(e.source) for e in examples[:i])
        cases.append(TestCase(before + _prompted(example.source) + example.want, setup))
    if not cases:
        raise TaskFormatError(f"no `>>>` example with expected output in {text[:60]!r}")
    return cases


def _prompted(source: str) -> str:
    lines = source.splitlines() or [""]
    return ">>> " + lines[0] + "\n" + "".join(f"... {line}\n" for line in lines[1:])


def cases_from(items: Iterable[str | TestCase], setup: str = "") -> list[TestCase]:
    """Build cases from assert statements, doctest texts or ready cases, in order."""
    cases: list[TestCase] = []
    for item in items:
        if isinstance(item, TestCase):
            cases.append(item)
        elif item.lstrip().startswith(">>>"):
            cases.extend(doctest_cases(item, setup))
        else:
            cases.append(assert_case(item, setup))
    return cases
