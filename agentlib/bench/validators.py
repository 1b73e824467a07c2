"""`agentlib bench validators`: measure the checks on programs known to be correct or wrong.

Each corpus line is ``{"id", "prompt", "tests": [...], "program", "expect": "correct" |
"wrong"}`` with optional ``"kind"`` (``special_cased``, ``plausible_bug``, ``mbpp`` …),
``"entry_point"``, ``"setup"`` (code the tests need) and ``"reference"`` (an independent
implementation, for the evidence step). A program must first pass its tests in the sandbox
(the checks judge only candidates that did; a line that fails is reported as skipped); then
every check the agent applies runs on it: the static special-case check and the validators of
all loaded plugins, and with ``evidence`` the comparison with the line's ``reference``.
"""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentlib.errors import TaskFormatError
from agentlib.model import TestCase
from agentlib.verify.check import Check

EXPECTS = ("correct", "wrong")


@dataclass(frozen=True)
class CorpusItem:
    """One program with its tests and what it is known to be."""

    id: str
    prompt: str
    tests: list[str]
    program: str
    expect: str
    kind: str = ""
    entry_point: str = ""
    setup: str = ""
    reference: str = ""


@dataclass
class Row:
    """What the checks concluded about one program."""

    id: str
    expect: str
    kind: str
    status: str
    """``rejected`` | ``accepted`` | ``skipped`` (the program fails its own tests)."""
    flagged: bool = False
    """Rejected by a check, or a counterexample found by the evidence step."""
    rejected_by: list[str] = field(default_factory=list)
    reason: str = ""
    warnings: list[str] = field(default_factory=list)
    counterexamples: list[str] = field(default_factory=list)
    agreed: int = 0
    compared: int = 0
    wall_s: float = 0.0


@dataclass
class Figures:
    """Totals over the rows that passed their tests."""

    rows: list[Row]
    correct_rejected: int = 0
    correct_total: int = 0
    wrong_caught: int = 0
    wrong_total: int = 0
    skipped: int = 0
    by_kind: dict[str, dict[str, Any]] = field(default_factory=dict)
    """{kind: {"flagged": n, "total": m, "expect": "correct" | "wrong"}}, first seen first."""

    def to_dict(self) -> dict[str, Any]:
        return {"correct_rejected": self.correct_rejected, "correct_total": self.correct_total,
                "wrong_caught": self.wrong_caught, "wrong_total": self.wrong_total,
                "skipped": self.skipped, "by_kind": self.by_kind,
                "rows": [asdict(r) for r in self.rows]}


def _field(record: dict, name: str, where: str, kind: type, default: Any = None) -> Any:
    value = record.get(name, default)
    if value is None or not isinstance(value, kind):
        raise TaskFormatError(f"{where}: field {name!r} must be a {kind.__name__} "
                              f"(got {type(value).__name__})")
    return value


def read_corpus(path: Path) -> list[CorpusItem]:
    """Read a corpus file; a malformed line raises TaskFormatError naming the file and line."""
    items = []
    seen: set[str] = set()
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise TaskFormatError(f"{where}: not JSON ({exc})") from exc
        if not isinstance(record, dict):
            raise TaskFormatError(f"{where}: a line must be a JSON object")
        tests = _field(record, "tests", where, list)
        if not tests or not all(isinstance(t, str) for t in tests):
            raise TaskFormatError(f"{where}: 'tests' must be a non-empty list of strings")
        expect = _field(record, "expect", where, str)
        if expect not in EXPECTS:
            raise TaskFormatError(f"{where}: 'expect' must be 'correct' or 'wrong', "
                                  f"not {expect!r}")
        item = CorpusItem(id=_field(record, "id", where, str), prompt=_field(
            record, "prompt", where, str, ""), tests=tests,
            program=_field(record, "program", where, str), expect=expect,
            kind=_field(record, "kind", where, str, ""),
            entry_point=_field(record, "entry_point", where, str, ""),
            setup=_field(record, "setup", where, str, ""),
            reference=_field(record, "reference", where, str, ""))
        if item.id in seen:
            raise TaskFormatError(f"{where}: id {item.id!r} appears twice")
        seen.add(item.id)
        items.append(item)
    return items


def entry_point_of(item: CorpusItem) -> str:
    """The line's entry point, or the first function the tests call that the program defines."""
    if item.entry_point:
        return item.entry_point
    try:
        defined = {n.name for n in ast.walk(ast.parse(item.program))
                   if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    except SyntaxError:
        return ""
    for test in item.tests:
        try:
            tree = ast.parse(test)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in defined:
                return node.func.id
    return ""


def judge(item: CorpusItem, plugin_checks: Callable[[str, str, list[str]], list[Check]] | None,
          evidence: bool = False) -> Row:
    """Run the item's tests, then every check, and say what they concluded."""
    from agentlib.sandbox import run
    from agentlib.verify.checks import candidate_checks

    start = time.monotonic()
    row = Row(item.id, item.expect, item.kind or item.expect, "skipped")
    cases = [TestCase(t, item.setup) for t in item.tests]
    entry = entry_point_of(item)
    verdict = run(item.program, cases)
    if not verdict.passed or not entry:
        failed = verdict.failures[0] if verdict.failures else None
        row.reason = ("no entry point found in the tests" if not entry else
                      f"fails its own tests ({verdict.ended}"
                      + (f"; {failed.error_type}: {failed.test[:80]}" if failed else "") + ")")
        row.wall_s = time.monotonic() - start
        return row
    found = candidate_checks(item.program, item.program, entry, cases, plugin_checks,
                             item.prompt)
    row.rejected_by = [c.name for c in found if c.rejected]
    row.reason = "; ".join(f"{c.name}: {c.reject}" for c in found if c.rejected)
    row.warnings = [f"{c.name}: {w}" for c in found for w in c.warnings]
    row.status = "rejected" if row.rejected_by else "accepted"
    if evidence and item.reference:
        from agentlib.verify.evidence import compare_with_reference

        result = compare_with_reference(item.program, entry, cases, item.reference)
        row.agreed, row.compared = result.agreed, result.compared
        row.counterexamples = [f"{c.call}: {c.candidate} vs {c.reference}"
                               for c in result.counterexamples]
        row.warnings += [f"independent: {w}" for w in result.warnings]
    row.flagged = bool(row.rejected_by or row.counterexamples)
    row.wall_s = time.monotonic() - start
    return row


def tally(rows: list[Row]) -> Figures:
    """Count rejections of correct programs and catches of wrong ones, overall and per kind."""
    figures = Figures(rows)
    for row in rows:
        if row.status == "skipped":
            figures.skipped += 1
            continue
        kind = figures.by_kind.setdefault(row.kind, {"flagged": 0, "total": 0,
                                                     "expect": row.expect})
        kind["total"] += 1
        kind["flagged"] += row.flagged
        if row.expect == "correct":
            figures.correct_total += 1
            figures.correct_rejected += row.flagged
        else:
            figures.wrong_total += 1
            figures.wrong_caught += row.flagged
    return figures


def run_bench(items: list[CorpusItem],
              plugin_checks: Callable[[str, str, list[str]], list[Check]] | None,
              evidence: bool = False, workers: int = 1,
              on_row: Callable[[Row], None] | None = None) -> Figures:
    """Judge every item (in `workers` threads; each check runs in its own sandbox)."""
    def one(item: CorpusItem) -> Row:
        row = judge(item, plugin_checks, evidence)
        if on_row is not None:
            on_row(row)
        return row

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        rows = list(pool.map(one, items))
    return tally(rows)


def summary_line(figures: Figures) -> str:
    return (f"known-correct rejected: {figures.correct_rejected}/{figures.correct_total}; "
            f"known-wrong caught: {figures.wrong_caught}/{figures.wrong_total}")
