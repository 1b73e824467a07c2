"""Run a program on generated inputs in the sandbox and read back what each call did.

One sandbox run, one test per input. Each test calls a small probe appended to the program
(it runs only in the sandbox, next to the candidate): the probe calls the entry point with the
candidate's own prints silenced and prints one marked line, the outcome, on the test's stdout.
That line is the program's own report: it can only lie about itself, never about another
program, which runs in a run of its own. Judgements that must not rest on a self-report are
made by the trusted harness with ordinary asserts (see `agentlib.verify.evidence`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Literal

from agentlib.errors import SandboxError, TaskFormatError
from agentlib.model import TestCase, TestResult, Verdict
from agentlib.sandbox import Limits, run
from agentlib.sandbox.cases import python_literal

PROBE = "_agentlib_probe"
MARK = "\x1eagentlib-outcome "
SHOWN = 1500
"""Characters of a result's repr the probe reports (a test keeps 2,000 of stdout)."""
HANGS = ("Timeout", "CPUTimeExceeded")
PROBE_SOURCE = f'''

def {PROBE}(thunk):
    import contextlib, io
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            value = thunk()
    except Exception as exc:
        outcome = ["raised", type(exc).__name__]
    else:
        try:
            text = repr(value)
        except Exception:
            text = ""
        outcome = ["value", type(value).__name__, text[:{SHOWN}], len(text)]
    print({MARK!r} + repr(outcome))
'''


@dataclass(frozen=True)
class Outcome:
    """What one call did: returned a value, raised, ran out of time, or could not be read."""

    kind: Literal["value", "raised", "timeout", "unknown"]
    type: str = ""
    """The result's type name, or the exception's."""
    text: str = ""
    """The result's repr (up to SHOWN characters)."""
    complete: bool = False
    """The repr is whole and evaluates back to the value (`value` is set)."""
    value: Any = None

    def show(self) -> str:
        if self.kind == "value":
            return self.text if self.complete or not self.text else self.text[:200] + "…"
        if self.kind == "raised":
            return f"raised {self.type}"
        return "no result in time" if self.kind == "timeout" else "no readable result"


def call_source(entry_point: str, values: tuple, keywords: tuple[str, ...]) -> str:
    """Source of the call `entry_point(*values)`, the last `len(keywords)` values by keyword."""
    split = len(values) - len(keywords)
    parts = [python_literal(v) for v in values[:split]]
    parts += [f"{k}={python_literal(v)}" for k, v in zip(keywords, values[split:], strict=True)]
    return f"{entry_point}({', '.join(parts)})"


def calls_for(entry_point: str, inputs: list[tuple], keywords: tuple[str, ...]
              ) -> list[tuple[tuple, str]]:
    """(input, call source) for each input that has a literal form."""
    found = []
    for values in inputs:
        try:
            found.append((values, call_source(entry_point, values, keywords)))
        except TaskFormatError:
            continue  # a value with no literal form: generated inputs are built from literals
    return found


def probe_case(call: str) -> TestCase:
    return TestCase(f"assert {PROBE}(lambda: {call}) is None")


def read_outcome(result: TestResult) -> Outcome:
    """The outcome of one probe test."""
    if not result.passed:
        if result.error_type in HANGS:
            return Outcome("timeout", result.error_type or "")
        return Outcome("raised", result.error_type or "")
    lines = [line for line in result.stdout.split("\n") if line.startswith(MARK)]
    if not lines:
        return Outcome("unknown")
    try:
        report = ast.literal_eval(lines[-1][len(MARK):])
        kind, type_name = report[0], report[1]
    except (ValueError, SyntaxError, TypeError, IndexError, MemoryError, RecursionError):
        return Outcome("unknown")
    if kind != "value":
        return Outcome("raised", str(type_name))
    text, length = str(report[2]), report[3]
    if length > len(text):
        return Outcome("value", str(type_name), text)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return Outcome("value", str(type_name), text)
    return Outcome("value", str(type_name), text, complete=True, value=value)


def run_cases(program: str, cases: list[TestCase], timeout_s: float) -> Verdict:
    """Run `cases` against `program` plus the probe; raise SandboxError if the sandbox failed."""
    verdict = run(program.rstrip() + "\n" + PROBE_SOURCE, cases,
                  Limits(timeout_s=timeout_s, cpu_s=timeout_s))
    if verdict.ended == "isolation-error" or len(verdict.results) != len(cases):
        raise SandboxError(f"the sandbox could not run the generated inputs ({verdict.ended}): "
                           f"{verdict.detail}")
    return verdict


def outcomes(program: str, calls: list[str], timeout_s: float = 1.0) -> list[Outcome]:
    """Run each call on `program` in one sandbox run; return what each did."""
    if not calls:
        return []
    verdict = run_cases(program, [probe_case(c) for c in calls], timeout_s)
    return [read_outcome(r) for r in verdict.results]
