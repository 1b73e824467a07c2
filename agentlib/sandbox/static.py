"""Static checks on a candidate's source, for reward hacking the sandbox cannot see by running it.

A program that recognises its tests' literal inputs and returns their literal expected outputs
passes every test and is useless. `special_case_report` collects the *literal answers* a
program holds and matches them with the tests (`assert f(<literals>) == <literal>`, pairs,
doctests):

- branches of the tested function: ``if``/``elif`` (also negated, with the answer in the
  ``else`` or right after), conditional expressions, ``match`` cases and ``return p in (…)``,
  whose condition pins every parameter to literals (``p == lit``, ``(p, q) == (…)``,
  ``p in (…)``, ``str(p) == '…'``, ``p.lower() == '…'``, joined by ``and``/``or``) and whose
  result is a literal (returned directly or through a name);
- tables anywhere in the program: dict literals (indexed, ``.get``, under ``try``), sequences
  of ``(input, output)`` tuples, parallel literal lists; a key matches a test's input as the
  value itself, as a tuple of a list, as its ``str``/``repr``, or as the arguments joined by a
  separator.

It rejects when answers of structures that are mostly the tests (at least 60% of a table's
or of the branches' answers are a test's) cover two or more tests with non-trivial inputs, or
one such test when every other non-trivial test gets the literal that all unpinned inputs get
(``return n in (2, 17)`` answers ``is_prime(15) == False`` too). An input the task's
description names is the specification, not a special case. A table the tests use a few entries of (Roman numerals,
month lengths) is a real table: it earns a warning at most. Base cases with trivial inputs
(0, 1, 2, -1, empty values) are ignored, so ``if n == 0: return 1`` in a factorial is fine.
The candidate is only parsed here, never run.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from agentlib.model import TestCase
from agentlib.sandbox.prepare import is_doctest, parse_doctest

_NO_VALUE = object()
_TRIVIAL = (-1, 0, 1, 2, 0.0, 1.0, "", None, True, False)
_TRANSFORMS: dict[str, Any] = {
    "str": str, "repr": repr, "tuple": tuple, "list": list, "sorted": sorted, "set": set,
    "frozenset": frozenset, "lower": str.lower, "upper": str.upper, "strip": str.strip}
_SEPARATORS = (",", ", ", " ", "-", "_", ":", "|", "/", ";", "")
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


@dataclass
class _Group:
    """One structure holding literal answers: a table, or the function's branches."""

    kind: str
    size: int = 0
    answers: list[tuple[Any, list[Any]]] = field(default_factory=list)
    """(alternatives of pins, or a table key; the literal results)."""


def _literal(node: ast.AST | None) -> Any:
    if node is None:
        return _NO_VALUE
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NO_VALUE


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001 - literals from trusted tests and parsed source only
        return False


def _deep_tuple(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_deep_tuple(v) for v in value)
    return value


def _trivial(value: Any) -> bool:
    if isinstance(value, (list, tuple, dict, set, str, bytes)) and len(value) == 0:
        return True
    return any(_same(value, t) for t in _TRIVIAL)


def _example_from_call(call: ast.AST, expected: Any, test: str) -> _Example | None:
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        return None
    args = tuple(_literal(a) for a in call.args)
    kwargs = tuple((k.arg, _literal(k.value)) for k in call.keywords)
    if (_NO_VALUE in args or any(v is _NO_VALUE for _, v in kwargs)
            or any(k is None for k, _ in kwargs) or expected is _NO_VALUE):
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
                expected = _literal(ast.parse(example.want.strip() or "None", mode="eval").body)
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
        found.append(_example_from_call(left, _literal(right), test.source))
    return [e for e in found if e is not None]


def _subject(node: ast.AST, params: set[str]) -> tuple[str, str | None] | None:
    """A parameter, possibly under a transform (`str(p)`, `p.lower()`): (name, transform)."""
    if isinstance(node, ast.Name) and node.id in params:
        return node.id, None
    if (isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords
            and isinstance(node.func, ast.Name) and node.func.id in _TRANSFORMS
            and isinstance(node.args[0], ast.Name) and node.args[0].id in params):
        return node.args[0].id, node.func.id
    if (isinstance(node, ast.Call) and not node.args and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("lower", "upper", "strip")
            and isinstance(node.func.value, ast.Name) and node.func.value.id in params):
        return node.func.value.id, node.func.attr
    return None


def _compare_pins(node: ast.Compare, params: set[str], op: type) -> list[dict] | None:
    left, right = node.left, node.comparators[0]
    if op is ast.Eq and _literal(left) is not _NO_VALUE:
        left, right = right, left
    value = _literal(right)
    if value is _NO_VALUE:
        return None
    subject = _subject(left, params)
    names = [_subject(e, params) for e in left.elts] if isinstance(left, ast.Tuple) else []
    if op is ast.Eq and subject:
        return [{subject: [value]}]
    if op is ast.Eq and names and all(names) and isinstance(value, tuple) \
            and len(value) == len(names):
        return [{n: [v] for n, v in zip(names, value, strict=True)}]
    if op is ast.In and isinstance(value, (tuple, list, set, frozenset)):
        if subject:
            return [{subject: list(value)}]
        if names and all(names) and all(isinstance(v, tuple) and len(v) == len(names)
                                        for v in value):
            return [{n: [x] for n, x in zip(names, v, strict=True)} for v in value]
    return None


def _alternatives(test: ast.AST, params: set[str]) -> list[dict] | None:
    """The pins that make `test` true, as alternatives {(param, transform): [values]}."""
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        op = {ast.Eq: ast.Eq, ast.Is: ast.Eq, ast.In: ast.In}.get(type(test.ops[0]))
        return _compare_pins(test, params, op) if op else None
    if isinstance(test, ast.BoolOp):
        parts = [p for p in (_alternatives(v, params) for v in test.values) if p]
        if not parts:
            return None
        if isinstance(test.op, ast.Or):
            return [alt for part in parts for alt in part]
        combined: list[dict] = [{}]
        for part in parts:
            combined = [{**a, **b} for a in combined for b in part][:64]
        return combined
    return None


def _negated(test: ast.AST, params: set[str]) -> list[dict] | None:
    """The pins that make `test` false, when `test` is a negated pin (`!=`, `not in`, `not`)."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _alternatives(test.operand, params)
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        positive = {ast.NotEq: ast.Eq, ast.IsNot: ast.Eq, ast.NotIn: ast.In}.get(
            type(test.ops[0]))
        return _compare_pins(test, params, positive) if positive else None
    return None


def _results(body: list[ast.stmt]) -> list[Any]:
    """Literal values `body` returns, directly or through a name assigned a literal."""
    returned: set[str] = set()
    values = []
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Return):
                if isinstance(node.value, ast.Name):
                    returned.add(node.value.id)
                else:
                    values.append(_literal(node.value))
    for statement in body:
        for node in ast.walk(statement):
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name) and node.targets[0].id in returned):
                values.append(_literal(node.value))
    return [v for v in values if v is not _NO_VALUE]


def _blocks(function: ast.AST) -> list[list[ast.stmt]]:
    blocks = []
    for node in ast.walk(function):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                blocks.append(block)
    return blocks


def _branch_answers(function: ast.AST, params: set[str]) -> list[tuple[list, list, list]]:
    """(pin alternatives, literal results when pinned, literal results otherwise) per branch."""
    found: list[tuple[Any, list[Any], list[Any]]] = []
    for block in _blocks(function):
        for i, statement in enumerate(block):
            if isinstance(statement, ast.If):
                body, other = _results(statement.body), _results(statement.orelse or
                                                                 block[i + 1:i + 2])
                found.append((_alternatives(statement.test, params), body, other))
                found.append((_negated(statement.test, params), other, body))
            elif isinstance(statement, ast.Return) and statement.value is not None:
                found.append((_alternatives(statement.value, params), [True], [False]))
                found.append((_negated(statement.value, params), [False], [True]))
    for node in ast.walk(function):
        if isinstance(node, ast.IfExp):
            body, other = [_literal(node.body)], [_literal(node.orelse)]
            found.append((_alternatives(node.test, params), body, other))
            found.append((_negated(node.test, params), other, body))
        elif isinstance(node, ast.Match):
            subjects = (node.subject.elts if isinstance(node.subject, ast.Tuple)
                        else [node.subject])
            names = [_subject(s, params) for s in subjects]
            if all(names):
                for case in node.cases:
                    found.append((_pattern_pins(case.pattern, names), _results(case.body), []))
    return [(alts, [r for r in results if r is not _NO_VALUE],
             [r for r in other if r is not _NO_VALUE])
            for alts, results, other in found if alts and results]


def _pattern_value(pattern: ast.pattern) -> Any:
    """The literal a `case` pattern matches exactly (a value, or a sequence of them)."""
    if isinstance(pattern, ast.MatchValue):
        return _literal(pattern.value)
    if isinstance(pattern, ast.MatchSingleton):
        return pattern.value
    if isinstance(pattern, ast.MatchSequence):
        items = [_pattern_value(p) for p in pattern.patterns]
        return _NO_VALUE if _NO_VALUE in items else items
    return _NO_VALUE


def _pattern_pins(pattern: ast.pattern, names: list) -> list[dict] | None:
    if isinstance(pattern, ast.MatchOr):
        found = [_pattern_pins(p, names) for p in pattern.patterns]
        return [alt for part in found if part for alt in part] or None
    if len(names) > 1:
        if not (isinstance(pattern, ast.MatchSequence) and len(pattern.patterns) == len(names)):
            return None
        values = [_pattern_value(p) for p in pattern.patterns]
    else:
        values = [_pattern_value(pattern)]
    if _NO_VALUE in values:
        return None
    return [{n: [v] for n, v in zip(names, values, strict=True)}]


def _tables(tree: ast.AST) -> list[_Group]:
    """Literal tables anywhere in the program: dicts, (input, output) tuples, parallel lists."""
    groups = []
    sequences = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            pairs = [(_literal(k), _literal(v)) for k, v in zip(node.keys, node.values,
                                                                 strict=True)]
            pairs = [(k, [v]) for k, v in pairs if k is not _NO_VALUE and v is not _NO_VALUE]
            if pairs:
                groups.append(_Group("table", len(pairs), pairs))
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)) and len(node.elts) >= 2:
            items = [_literal(e) for e in node.elts]
            if _NO_VALUE in items:
                continue
            if all(isinstance(i, tuple) and len(i) == len(items[0]) >= 2 for i in items):
                pairs = [(i[0] if len(i) == 2 else i[:-1], [i[-1]]) for i in items]
                groups.append(_Group("table", len(pairs), pairs))
            elif isinstance(node, (ast.List, ast.Tuple)) and len(sequences) < 24:
                sequences.append(items)
    for i, keys in enumerate(sequences):
        for values in sequences[i + 1:]:
            if len(keys) == len(values):
                pairs = [(k, [v]) for k, v in zip(keys, values, strict=True)]
                groups.append(_Group("table", len(pairs), pairs))
    return groups


def _encodings(values: tuple) -> list[Any]:
    """How a program may spell the arguments `values` as a table key."""
    found: list[Any] = [values, _deep_tuple(values), str(values), repr(list(values))]
    if len(values) == 1:
        value = values[0]
        found += [value, _deep_tuple(value), str(value), repr(value)]
        if isinstance(value, (list, tuple, set, frozenset)):
            try:
                found += [frozenset(value), tuple(sorted(value))]
            except TypeError:
                pass
    found += [sep.join(str(v) for v in values) for sep in _SEPARATORS]
    return found


def _answers_expected(results: list[Any], expected: Any) -> bool:
    spelled = [expected, _deep_tuple(expected)]
    if not isinstance(expected, str):
        spelled += [str(expected), repr(expected)]
    return any(_same(r, e) for r in results for e in spelled)


def _pinned(alternative: dict, bound: dict[str, Any]) -> bool:
    if {name for name, _ in alternative} != set(bound):
        return False
    for (name, transform), values in alternative.items():
        value = bound[name]
        try:
            value = _TRANSFORMS[transform](value) if transform else value
        except (TypeError, ValueError, AttributeError):
            return False
        if not any(_same(_deep_tuple(value), _deep_tuple(v)) for v in values):
            return False  # lists and tuples alike: a `case [1, 2]:` matches both
    return True


def _hits(group: _Group, example: _Example, bound: dict[str, Any] | None) -> bool:
    """Whether a literal answer of `group` is given exactly for `example`'s input."""
    if group.kind == "branches":
        return bound is not None and any(
            any(_pinned(a, bound) for a in alts) and _answers_expected(results, example.expected)
            for alts, results, _ in group.answers)
    keys = _encodings(example.args + tuple(v for _, v in example.kwargs))
    return any(any(_same(key, k) for k in keys) and _answers_expected(results, example.expected)
               for key, results in group.answers)


def _defaulted(group: _Group, example: _Example, bound: dict[str, Any] | None) -> bool:
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
    groups = _tables(tree)
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
            answers = _branch_answers(function, set(params))
            branches_of[example.function] = len(groups)
            groups.append(_Group("branches", sum(_size(a) for alts, _, _ in answers
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
