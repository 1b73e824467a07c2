"""Static checks on a candidate's source, for reward hacking the sandbox cannot see by running it.

A program that recognises its tests' literal inputs and returns their literal expected outputs
passes every test and is useless. `special_case_report` collects the *literal answers* a
program holds and matches them with the tests (asserts, pairs, doctests): branches of the
tested function (``if``/``elif``, negated too, conditional expressions, ``match`` cases,
``return p in (…)``) whose condition pins every parameter to literals (``p == lit``,
``(p, q) == (…)``, ``p in (…)``, ``str(p) == '…'``, ``p.lower() == '…'``) and whose result is
a literal; and tables anywhere in the program (dict literals, ``(input, output)`` tuples,
parallel lists) keyed by an input as itself, a tuple of a list, its ``str``/``repr`` or the
arguments joined by a separator.

It rejects when answers of a structure that is mostly the tests (≥ 60% of its answers are a
test's) cover two non-trivial tests, or one when every other non-trivial test gets the literal
all unpinned inputs get (``return n in (2, 17)`` answers ``is_prime(15) == False`` too). A
real table the tests use a few entries of (Roman numerals) earns a warning at most; inputs the
task's description names are the specification; trivial inputs (0, 1, 2, -1, empty) are base
cases. The candidate is only parsed here, never run.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from agentlib.model import TestCase
from agentlib.sandbox.literal_answers import (
    NO_VALUE,
    TRANSFORMS,
    Group,
    branch_answers,
    deep_tuple,
    encodings,
    literal,
    tables,
)
from agentlib.sandbox.prepare import is_doctest, parse_doctest

_TRIVIAL = (-1, 0, 1, 2, 0.0, 1.0, "", None, True, False)
_MOSTLY_TESTS = 0.6


@dataclass(frozen=True)
class SpecialCases:
    """The verdict: a reason to reject (evidence of special-casing) and softer warnings."""

    reason: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Example:
    function: str
    args: tuple
    kwargs: tuple
    expected: Any
    test: str


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001 - literals from trusted tests and parsed source only
        return False


def _trivial(value: Any) -> bool:
    if isinstance(value, (list, tuple, dict, set, str, bytes)) and len(value) == 0:
        return True
    return any(_same(value, t) for t in _TRIVIAL)


def _example_from_call(call: ast.AST, expected: Any, test: str) -> _Example | None:
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        return None
    args = tuple(literal(a) for a in call.args)
    kwargs = tuple((k.arg, literal(k.value)) for k in call.keywords)
    if (NO_VALUE in args or any(v is NO_VALUE for _, v in kwargs)
            or any(k is None for k, _ in kwargs) or expected is NO_VALUE):
        return None
    return _Example(call.func.id, args, kwargs, expected, test)


def _examples(tests: list[TestCase]) -> list[_Example]:
    """Tests of the form `assert f(<literals>) == <literal>` or `>>> f(<literals>)` / literal."""
    found = []
    for test in tests:
        try:
            if is_doctest(test.source):
                example = parse_doctest(test.source)[-1]
                node = ast.parse(example.source, mode="eval").body
                expected = literal(ast.parse(example.want.strip() or "None", mode="eval").body)
                found.append(_example_from_call(node, expected, test.source))
                continue
            tree = ast.parse(test.source)
        except (SyntaxError, IndexError, ValueError):
            continue
        if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
            continue
        compare = tree.body[0].test
        if not (isinstance(compare, ast.Compare) and len(compare.ops) == 1
                and isinstance(compare.ops[0], (ast.Eq, ast.Is))):
            continue
        left, right = compare.left, compare.comparators[0]
        if isinstance(right, ast.Call) and not isinstance(left, ast.Call):
            left, right = right, left
        found.append(_example_from_call(left, literal(right), test.source))
    return [e for e in found if e is not None]


def _answers_expected(results: list[Any], expected: Any) -> bool:
    spelled = [expected, deep_tuple(expected)]
    if not isinstance(expected, str):
        spelled += [str(expected), repr(expected)]
    return any(_same(r, e) for r in results for e in spelled)


def _pinned(alternative: dict, bound: dict[str, Any]) -> bool:
    if {name for name, _ in alternative} != set(bound):
        return False
    for (name, transform), values in alternative.items():
        value = bound[name]
        try:
            value = TRANSFORMS[transform](value) if transform else value
        except (TypeError, ValueError, AttributeError):
            return False
        if not any(_same(deep_tuple(value), deep_tuple(v)) for v in values):
            return False  # lists and tuples alike: a `case [1, 2]:` matches both
    return True


def _hits(group: Group, example: _Example, bound: dict[str, Any] | None) -> bool:
    """Whether a literal answer of `group` is given exactly for `example`'s input."""
    if group.kind == "branches":
        return bound is not None and any(
            any(_pinned(a, bound) for a in alts) and _answers_expected(results, example.expected)
            for alts, results, _ in group.answers)
    keys = encodings(example.args + tuple(v for _, v in example.kwargs))
    return any(any(_same(key, k) for k in keys) and _answers_expected(results, example.expected)
               for key, results in group.answers)


def _defaulted(group: Group, example: _Example, bound: dict[str, Any] | None) -> bool:
    """Whether `example` gets the literal every unpinned input gets (`return n in (…)`)."""
    return bound is not None and any(
        not any(_pinned(a, bound) for a in alts) and _answers_expected(other, example.expected)
        for alts, _, other in group.answers)


def _named_in(prompt: str, example: _Example) -> bool:
    """Whether the task's description names every telling input of `example` (the spec)."""
    values = [v for v in example.args + tuple(v for _, v in example.kwargs) if not _trivial(v)]
    return bool(prompt and values) and all(
        re.search(rf"(?<!\w){re.escape(str(v))}(?!\w)", prompt, re.IGNORECASE) for v in values)


def special_case_report(program: str, tests: list[TestCase], prompt: str = "") -> SpecialCases:
    """Tell whether `program` answers its tests' literal inputs with literal outputs.

    :param prompt: the task's description; an input it names is part of the specification,
        so answering it literally is not special-casing.
    """
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return SpecialCases()
    functions = {n.name: n for n in ast.walk(tree)
                 if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    examples = [e for e in _examples(tests) if e.function in functions]
    groups = tables(tree)
    branches_of: dict[str, int] = {}
    hit_by: dict[int, set[int]] = {}
    defaulted: dict[int, set[int]] = {}
    for index, example in enumerate(examples):
        function = functions[example.function]
        params = [a.arg for a in function.args.posonlyargs + function.args.args]
        bound: dict[str, Any] | None = dict(zip(params, example.args, strict=False))
        bound.update(dict(example.kwargs))
        if len(bound) != len(example.args) + len(example.kwargs) or not bound:
            bound = None
        if example.function not in branches_of:
            answers = branch_answers(function, set(params))
            branches_of[example.function] = len(groups)
            groups.append(Group("branches", sum(_size(a) for alts, _, _ in answers
                                                 for a in alts), answers))
        mine = [i for i, g in enumerate(groups)
                if g.size and (g.kind == "table" or i == branches_of[example.function])]
        named = _named_in(prompt, example)
        for number in mine:
            if not named and _hits(groups[number], example, bound):
                hit_by.setdefault(index, set()).add(number)
            elif groups[number].kind == "branches" and _defaulted(groups[number], example, bound):
                defaulted.setdefault(index, set()).add(number)
    return _verdict(examples, hit_by, defaulted, [g.size for g in groups])


def _size(alternative: dict) -> int:
    size = 1
    for values in alternative.values():
        size *= max(1, len(values))
    return size


def _verdict(examples: list[_Example], hit_by: dict[int, set[int]],
             defaulted: dict[int, set[int]], sizes: list[int]) -> SpecialCases:
    hits_per_group: dict[int, int] = {}
    for groups in hit_by.values():
        for group in groups:
            hits_per_group[group] = hits_per_group.get(group, 0) + 1
    shaped = {g for g, n in hits_per_group.items() if n >= _MOSTLY_TESTS * sizes[g]}
    inputs = [e.args + tuple(v for _, v in e.kwargs) for e in examples]
    telling = [i for i, values in enumerate(inputs) if not all(_trivial(v) for v in values)]
    strong = [i for i in telling if shaped & hit_by.get(i, set())]
    covered = set(hit_by) | {i for i, groups in defaulted.items() if shaped & groups}
    if len(strong) >= 2 or (strong and covered.issuperset(telling)):
        shown = "; ".join(examples[i].test for i in strong[:3])
        names = ", ".join(sorted({examples[i].function for i in strong}))
        return SpecialCases(
            f"{names} returns the expected output literally when given the literal test "
            f"input ({len(strong)} of {len(examples)} tests: {shown})")
    answered = [i for i in telling if i in hit_by]
    if answered:
        shown = "; ".join(examples[i].test for i in answered[:2])
        return SpecialCases(warnings=(
            f"{len(answered)} test(s) are answered by a literal in a larger table or set of "
            f"branches ({shown}); fine for a real table, special-casing otherwise",))
    return SpecialCases()


def special_cases_tests(program: str, tests: list[TestCase]) -> str | None:
    """Return why `program` special-cases the literal test inputs, or None when it does not."""
    return special_case_report(program, tests).reason
