"""Fuzz a candidate with inputs shaped like its tests' arguments; all calls run in the sandbox.

1. The tests are parsed (trusted text): every call ``f(<literals>)`` gives the argument
   values of each position, and ``assert f(...) == <literal>`` gives the expected result type.
2. Hypothesis generates argument tuples from those examples, in this process: only data is
   generated here; the candidate is never imported or run in agentlib's process.
3. One sandbox run evaluates the candidate on every tuple through two summary probes
   appended to the program: a result, or ValueError / TypeError / ArithmeticError (the input
   is outside the function's domain), is fine; any other exception, a crash or a timeout is
   not. The probes count results of a type the tests never expect (``None`` where an ``int``
   was expected…) and distinct results. Only when a pass fails are the first inputs probed
   one by one, to name the one that hangs or raises.

A candidate is rejected when it hangs, crashes, or raises an unexpected exception on some
input, when most of its results have a type its tests never expect, or when it returns one
and the same value for every generated input although its tests expect different ones: the
signs of code that only works on the literal test inputs.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from agentlib.errors import SandboxError, TaskFormatError
from agentlib.model import TestCase
from agentlib.sandbox import Limits, run
from agentlib.sandbox.cases import python_literal

PROBE = "_agentlib_fuzz_probe"
SUMMARY = "_agentlib_fuzz_summary"
# Appended to the candidate's program; it runs only in the sandbox, next to the candidate.
PROBE_SOURCE = f'''
def {PROBE}(thunk):
    try:
        thunk()
    except (ValueError, TypeError, ArithmeticError):
        return "outside-domain"
    return "ok"


def {SUMMARY}(thunks, allowed):
    returned, wrong, seen = 0, 0, set()
    for thunk in thunks:
        try:
            value = thunk()
        except (ValueError, TypeError, ArithmeticError):
            continue
        returned += 1
        if allowed and type(value).__name__ not in allowed:
            wrong += 1
        seen.add(repr(value))
    return [returned, wrong, len(seen)]
'''
HANGS = ("Timeout", "CPUTimeExceeded")
_NUMBER = ("int", "float")
_TYPE_NAMES = {bool: ("bool",), int: _NUMBER, float: _NUMBER, str: ("str",),
               bytes: ("bytes",), list: ("list",), tuple: ("tuple",), dict: ("dict",),
               set: ("set", "frozenset"), frozenset: ("set", "frozenset"),
               type(None): ("NoneType",)}


@dataclass(frozen=True)
class FuzzSettings:
    """How hard to fuzz; the defaults keep a good candidate's check under a second."""

    examples: int = 40
    timeout_s: float = 3.0
    """Wall and CPU seconds for one pass over every generated input."""
    culprit_probes: int = 4
    """When a pass fails, how many inputs are then tried one by one to name the culprit."""
    probe_timeout_s: float = 1.0
    min_for_constancy: int = 8


@dataclass
class Observed:
    """What the tests show of the entry point: argument examples per slot, expected results."""

    slots: list[list[Any]] = field(default_factory=list)
    keywords: tuple[str, ...] = ()
    inputs: set[str] = field(default_factory=set)
    expected: list[Any] = field(default_factory=list)


_NO_VALUE = object()


def _literal(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NO_VALUE


def observe(tests: list[str], entry_point: str) -> Observed:
    """Collect the literal arguments and expected results of calls to `entry_point`."""
    seen = Observed()
    shape: tuple[int, tuple[str, ...]] | None = None
    for test in tests:
        try:
            tree = ast.parse(test)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == entry_point):
                continue
            args = [_literal(a) for a in node.args]
            kwargs = [(k.arg, _literal(k.value)) for k in node.keywords]
            if _NO_VALUE in args or any(k is None or v is _NO_VALUE for k, v in kwargs):
                continue
            this = (len(args), tuple(k for k, _ in kwargs))
            shape = shape or this
            if this != shape:
                continue
            values = args + [v for _, v in kwargs]
            if not seen.slots:
                seen.slots = [[] for _ in values]
                seen.keywords = this[1]
            for slot, value in zip(seen.slots, values, strict=True):
                slot.append(value)
            seen.inputs.add(repr(values))
        if tree.body and isinstance(tree.body[0], ast.Assert):
            seen.expected.extend(_expected_results(tree.body[0].test, entry_point))
    return seen


def _expected_results(test: ast.expr, entry_point: str) -> list[Any]:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], (ast.Eq, ast.Is))):
        return []
    left, right = test.left, test.comparators[0]
    for call, other in ((left, right), (right, left)):
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id == entry_point):
            value = _literal(other)
            return [] if value is _NO_VALUE else [value]
    return []


def allowed_types(expected: list[Any]) -> tuple[str, ...]:
    """The result type names the tests accept; empty when the tests say nothing of types."""
    names: set[str] = set()
    for value in expected:
        names.update(_TYPE_NAMES.get(type(value), ()))
    return tuple(sorted(names))


def _strategy(values: list[Any]):
    """A hypothesis strategy for values like `values` (same types, similar sizes and ranges)."""
    from hypothesis import strategies as st

    by_type: dict[type, list[Any]] = {}
    for value in values:
        by_type.setdefault(type(value), []).append(value)
    options = [_strategy_for(kind, examples) for kind, examples in by_type.items()]
    options = [o for o in options if o is not None]
    if not options:
        return st.sampled_from(values)
    return options[0] if len(options) == 1 else st.one_of(options)


def _strategy_for(kind: type, examples: list[Any]):
    from hypothesis import strategies as st

    if kind is bool:
        return st.booleans()
    if kind is type(None):
        return st.none()
    if kind is int:
        low, high = min(examples), max(examples)
        span = max(10, high - low)
        floor = 1 if low >= 1 else 0 if low >= 0 else low - span
        return st.integers(min_value=max(floor, low - span), max_value=high + span)
    if kind is float:
        low, high = min(examples), max(examples)
        span = max(10.0, high - low)
        floor = 0.0 if low >= 0 else low - span
        return st.floats(min_value=max(floor, low - span), max_value=high + span,
                         allow_nan=False, allow_infinity=False)
    if kind is str:
        sizes = [len(e) for e in examples]
        shapes = sorted({_shape(e) for e in examples if e})[:5]
        text = st.text(st.characters(min_codepoint=32, max_codepoint=126),
                       min_size=min(1, min(sizes)), max_size=max(sizes) + 5)
        shaped = [st.from_regex(s, fullmatch=True) for s in shapes]
        return st.one_of([st.sampled_from(sorted(set(examples)))] + shaped + [text])
    if kind in (list, tuple, set, frozenset):
        items = [item for e in examples for item in e]
        sizes = [len(e) for e in examples]
        element = _strategy(items) if items else st.integers(-10, 10)
        collection = st.lists(element, min_size=min(sizes), max_size=max(sizes) + 3)
        if kind is list:
            return collection
        return collection.map(kind)
    if kind is dict:
        keys = [k for e in examples for k in e]
        values = [v for e in examples for v in e.values()]
        if not keys:
            return st.just({})
        sizes = [len(e) for e in examples]
        return st.dictionaries(_strategy(keys), _strategy(values),
                               min_size=min(sizes), max_size=max(sizes) + 3)
    return None


def _shape(text: str) -> str:
    """A regex for strings shaped like `text`: digits stay digits, letters stay letters."""
    import re

    out = []
    for char in text:
        if char.isdigit():
            out.append("[0-9]")
        elif char.isascii() and char.islower():
            out.append("[a-z]")
        elif char.isascii() and char.isupper():
            out.append("[A-Z]")
        else:
            out.append(re.escape(char))
    return "".join(out)


def generate_inputs(seen: Observed, count: int) -> list[list[Any]]:
    """Generate up to `count` argument lists like the tests' ones, none equal to a test's."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    strategy = st.tuples(*[_strategy(slot) for slot in seen.slots])
    found: dict[str, list[Any]] = {}

    @settings(max_examples=count * 3, database=None, derandomize=True, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(values: tuple) -> None:
        key = repr(list(values))
        if key not in seen.inputs and len(found) < count:
            found[key] = list(values)

    collect()
    return list(found.values())


def _call(entry_point: str, values: list[Any], keywords: tuple[str, ...]) -> str:
    positional = values[:len(values) - len(keywords)]
    named = values[len(values) - len(keywords):]
    parts = [python_literal(v) for v in positional]
    parts += [f"{k}={python_literal(v)}" for k, v in zip(keywords, named, strict=True)]
    return f"{entry_point}({', '.join(parts)})"


def fuzz(source: str, entry_point: str, tests: list[str],
         config: FuzzSettings = FuzzSettings()) -> str | None:
    """Return why the candidate is rejected, or None when it survives the generated inputs."""
    seen = observe(tests, entry_point)
    if not seen.slots:
        return None  # no literal call to learn argument types from
    calls = []
    for values in generate_inputs(seen, config.examples):
        try:
            calls.append(_call(entry_point, values, seen.keywords))
        except TaskFormatError:
            continue  # a generated value with no literal form (cannot happen for built-ins)
    if not calls:
        return None
    allowed = allowed_types(seen.expected)
    thunks = "[" + ", ".join(f"lambda: {c}" for c in calls) + "]"
    varied = len({repr(v) for v in seen.expected}) > 1
    summaries = [
        TestCase(f"assert (lambda s: s[1] * 2 <= s[0])({SUMMARY}({thunks}, {allowed!r}))"),
        TestCase(f"assert (lambda s: s[0] < {config.min_for_constancy} or s[2] > 1 "
                 f"or not {varied})({SUMMARY}({thunks}, ()))")]
    type_check, constancy = _run(source, summaries, config.timeout_s).results
    for result in (type_check, constancy):
        if not result.passed and result.error_type != "AssertionError":
            return _culprit(source, calls[:config.culprit_probes], config) or (
                f"fails on {len(calls)} generated inputs ({result.error_type}; "
                f"{'too slow or hangs' if result.error_type in HANGS else 'unexpected error'})")
    if not type_check.passed:
        return (f"most results on {len(calls)} generated inputs are not of the type the tests "
                f"expect ({', '.join(allowed)}): it only works on the literal test inputs")
    if not constancy.passed:
        return (f"returns one and the same value for all {len(calls)} generated inputs although "
                "its tests expect different results: it only works on the literal test inputs")
    return None


def _run(source: str, cases: list[TestCase], timeout_s: float):
    verdict = run(source.rstrip() + "\n\n" + PROBE_SOURCE, cases,
                  Limits(timeout_s=timeout_s, cpu_s=timeout_s))
    if verdict.ended == "isolation-error" or len(verdict.results) != len(cases):
        raise SandboxError(f"the sandbox could not run the fuzz probes ({verdict.ended}): "
                           f"{verdict.detail}")
    return verdict


def _culprit(source: str, calls: list[str], config: FuzzSettings) -> str | None:
    """Probe inputs one by one to name one that hangs or raises; None if none of them does."""
    cases = [TestCase(f"assert {PROBE}(lambda: {c}) in ('ok', 'outside-domain')")
             for c in calls]
    results = _run(source, cases, config.probe_timeout_s).results
    for call, result in zip(calls, results, strict=True):
        if result.passed:
            continue
        if result.error_type in HANGS:
            return f"hangs on {call} (no result within {config.probe_timeout_s:g} s)"
        return (f"raises {result.error_type} on {call}; an input of the tested types should "
                "give a result, or a ValueError or TypeError when it is outside the domain")
    return None
