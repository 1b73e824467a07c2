"""Collect the literal answers a program holds: branches pinned to literals, literal tables.

Used by `agentlib.sandbox.static`; the program is only parsed here, never run. A branch answer
is (alternatives of pins, literal results when pinned, literal results otherwise), a pin being
``{(parameter, transform or None): [values]}``; a table answer is (key, [result]).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = object()
TRANSFORMS: dict[str, Any] = {
    "str": str, "repr": repr, "tuple": tuple, "list": list, "sorted": sorted, "set": set,
    "frozenset": frozenset, "lower": str.lower, "upper": str.upper, "strip": str.strip}
SEPARATORS = (",", ", ", " ", "-", "_", ":", "|", "/", ";", "")


@dataclass
class Group:
    """One structure holding literal answers: a table, or the function's branches."""

    kind: str
    size: int = 0
    answers: list[tuple] = field(default_factory=list)
    """Branches: (pin alternatives, results when pinned, results otherwise); tables: (key,
    results)."""


def literal(node: ast.AST | None) -> Any:
    """The value of a literal expression, or NO_VALUE."""
    if node is None:
        return NO_VALUE
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return NO_VALUE


def parameter(node: ast.AST, params: set[str]) -> tuple[str, str | None] | None:
    """A parameter, possibly under a transform (`str(p)`, `p.lower()`): (name, transform)."""
    if isinstance(node, ast.Name) and node.id in params:
        return node.id, None
    if (isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords
            and isinstance(node.func, ast.Name) and node.func.id in TRANSFORMS
            and isinstance(node.args[0], ast.Name) and node.args[0].id in params):
        return node.args[0].id, node.func.id
    if (isinstance(node, ast.Call) and not node.args and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("lower", "upper", "strip")
            and isinstance(node.func.value, ast.Name) and node.func.value.id in params):
        return node.func.value.id, node.func.attr
    return None


def _compare_pins(node: ast.Compare, params: set[str], op: type) -> list[dict] | None:
    left, right = node.left, node.comparators[0]
    if op is ast.Eq and literal(left) is not NO_VALUE:
        left, right = right, left
    value = literal(right)
    if value is NO_VALUE:
        return None
    subject = parameter(left, params)
    names = [parameter(e, params) for e in left.elts] if isinstance(left, ast.Tuple) else []
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
                    values.append(literal(node.value))
    for statement in body:
        for node in ast.walk(statement):
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name) and node.targets[0].id in returned):
                values.append(literal(node.value))
    return [v for v in values if v is not NO_VALUE]


def _blocks(function: ast.AST) -> list[list[ast.stmt]]:
    blocks = []
    for node in ast.walk(function):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                blocks.append(block)
    return blocks


def branch_answers(function: ast.AST, params: set[str]) -> list[tuple[list, list, list]]:
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
            body, other = [literal(node.body)], [literal(node.orelse)]
            found.append((_alternatives(node.test, params), body, other))
            found.append((_negated(node.test, params), other, body))
        elif isinstance(node, ast.Match):
            subjects = (node.subject.elts if isinstance(node.subject, ast.Tuple)
                        else [node.subject])
            names = [parameter(s, params) for s in subjects]
            if all(names):
                for case in node.cases:
                    found.append((_pattern_pins(case.pattern, names), _results(case.body), []))
    return [(alts, [r for r in results if r is not NO_VALUE],
             [r for r in other if r is not NO_VALUE])
            for alts, results, other in found if alts and results]


def _pattern_value(pattern: ast.pattern) -> Any:
    """The literal a `case` pattern matches exactly (a value, or a sequence of them)."""
    if isinstance(pattern, ast.MatchValue):
        return literal(pattern.value)
    if isinstance(pattern, ast.MatchSingleton):
        return pattern.value
    if isinstance(pattern, ast.MatchSequence):
        items = [_pattern_value(p) for p in pattern.patterns]
        return NO_VALUE if NO_VALUE in items else items
    return NO_VALUE


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
    if NO_VALUE in values:
        return None
    return [{n: [v] for n, v in zip(names, values, strict=True)}]


def tables(tree: ast.AST) -> list[Group]:
    """Literal tables anywhere in the program: dicts, (input, output) tuples, parallel lists."""
    groups = []
    sequences = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            pairs = [(literal(k), literal(v)) for k, v in zip(node.keys, node.values,
                                                                 strict=True)]
            pairs = [(k, [v]) for k, v in pairs if k is not NO_VALUE and v is not NO_VALUE]
            if pairs:
                groups.append(Group("table", len(pairs), pairs))
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)) and len(node.elts) >= 2:
            items = [literal(e) for e in node.elts]
            if NO_VALUE in items:
                continue
            if all(isinstance(i, tuple) and len(i) == len(items[0]) >= 2 for i in items):
                pairs = [(i[0] if len(i) == 2 else i[:-1], [i[-1]]) for i in items]
                groups.append(Group("table", len(pairs), pairs))
            elif isinstance(node, (ast.List, ast.Tuple)) and len(sequences) < 24:
                sequences.append(items)
    for i, keys in enumerate(sequences):
        for values in sequences[i + 1:]:
            if len(keys) == len(values):
                pairs = [(k, [v]) for k, v in zip(keys, values, strict=True)]
                groups.append(Group("table", len(pairs), pairs))
    return groups


def encodings(values: tuple) -> list[Any]:
    """How a program may spell the arguments `values` as a table key."""
    found: list[Any] = [values, deep_tuple(values), str(values), repr(list(values))]
    if len(values) == 1:
        value = values[0]
        found += [value, deep_tuple(value), str(value), repr(value)]
        if isinstance(value, (list, tuple, set, frozenset)):
            try:
                found += [frozenset(value), tuple(sorted(value))]
            except TypeError:
                pass
    found += [sep.join(str(v) for v in values) for sep in SEPARATORS]
    return found


def deep_tuple(value: Any) -> Any:
    """Lists and tuples, nested, as tuples: how a program makes a list hashable."""
    if isinstance(value, (list, tuple)):
        return tuple(deep_tuple(v) for v in value)
    return value
