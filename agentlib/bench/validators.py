"""`agentlib bench validators`: measure the checks on programs known to be correct or wrong.

Each corpus line is ``{"id", "prompt", "tests": [...], "program", "expect": "correct" |
"wrong"}`` with optional ``"kind"`` (``special_cased``, ``plausible_bug``, ``mbpp`` …),
``"entry_point"``, ``"setup"`` (code the tests need) and ``"reference"`` (an independent
implementation, for the evidence step). A program must first pass its tests in the sandbox
(the checks judge only candidates that did; a line that fails is reported as skipped); then
every check the agent applies runs on it: the static special-case check and the validators of
all loaded plugins, and the evidence step: with ``evidence`` the comparison with the line's
``reference``; with a model (`--llm/--model`), the comparison with an independent
implementation the model writes from the line's prompt and tests, asked exactly as the
agent's `cross_check` node asks (one LLM call per program that passed its tests and has
literal calls to vary). A model-written implementation that fails the tests is no evidence.
"""

from __future__ import annotations

import ast
import json
import threading
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
    reference: str = ""
    """``corpus`` | ``model`` | ``model failed its tests`` | ``model wrote no function`` | ""."""
    llm_calls: int = 0
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
    llm_calls: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"correct_rejected": self.correct_rejected, "correct_total": self.correct_total,
                "wrong_caught": self.wrong_caught, "wrong_total": self.wrong_total,
                "skipped": self.skipped, "by_kind": self.by_kind, "llm_calls": self.llm_calls,
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


class ModelReference:
    """Independent implementations written by the runtime's model, asked as the agent's
    evidence step asks (one call at a time: a local model serves one request at once); with
    one, the evidence step uses it instead of the corpus's `reference`."""

    def __init__(self, runtime: Any) -> None:
        from agentlib.agent.policy import independent_sampling

        self.llm = runtime.llm()
        self.sampling = independent_sampling(runtime.settings.repair_temperature)
        self.lock = threading.Lock()

    def write(self, item: CorpusItem, entry: str) -> tuple[str, str]:
        """(the implementation, "") or ("", why the reply holds none)."""
        from agentlib.agent.cross_check import ask_independent

        with self.lock:
            record, unusable = ask_independent(self.llm, item.prompt, entry, item.tests,
                                               self.sampling)
        return record.reference, unusable


def _compare(row: Row, item: CorpusItem, entry: str, cases: list[TestCase],
             model: ModelReference | None) -> None:
    """The evidence step on one program that passed its tests and checks."""
    from agentlib.verify.evidence import compare_with_reference, generated_calls

    reference, row.reference = item.reference, "corpus"
    if model is not None:
        if not generated_calls(cases, entry):
            row.reference = ""
            row.warnings.append("independent: the tests have no literal call to vary; "
                                "no implementation asked")
            return
        reference, unusable = model.write(item, entry)
        row.llm_calls, row.reference = 1, "model"
        if unusable:
            row.reference = "model wrote no function"
            row.warnings.append(f"independent: {unusable}")
            return
    result = compare_with_reference(item.program, entry, cases, reference)
    if not result.reference_passed and model is not None:
        row.reference = "model failed its tests"
    row.agreed, row.compared = result.agreed, result.compared
    row.counterexamples = [f"{c.call}: {c.candidate} vs {c.reference}"
                           for c in result.counterexamples]
    row.warnings += [f"independent: {w}" for w in result.warnings]


def judge(item: CorpusItem, plugin_checks: Callable[[str, str, list[str]], list[Check]] | None,
          evidence: bool = False, model: ModelReference | None = None) -> Row:
    """Run the item's tests, then every check, then (with `evidence` or a `model`) the
    evidence step, and say what they concluded."""
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
    if not row.rejected_by and (model is not None or (evidence and item.reference)):
        _compare(row, item, entry, cases, model)
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
        figures.llm_calls += row.llm_calls
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
              on_row: Callable[[Row], None] | None = None,
              model: ModelReference | None = None) -> Figures:
    """Judge every item (in `workers` threads; each check runs in its own sandbox)."""
    def one(item: CorpusItem) -> Row:
        row = judge(item, plugin_checks, evidence, model)
        if on_row is not None:
            on_row(row)
        return row

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        rows = list(pool.map(one, items))
    return tally(rows)


def summary_line(figures: Figures) -> str:
    return (f"known-correct rejected: {figures.correct_rejected}/{figures.correct_total}; "
            f"known-wrong caught: {figures.wrong_caught}/{figures.wrong_total}")
