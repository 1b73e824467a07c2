"""Evidence beyond the tests: run the candidate next to an independent implementation.

Both programs get the same generated in-domain inputs (`agentlib.verify.domain`), each in a
sandbox run of its own, so neither can reach the other. The independent implementation must
pass the task's tests first. Its results, read back as literals, become ordinary asserts
that the trusted harness judges on the candidate (``assert f(3) == 5``); the candidate's own
report is used only to show what it returned, and to forgive float rounding. An input where
both return a value and the values differ is a counterexample. An input where one of them
raises is not evidence either way (it may lie outside the real domain): it is counted and
named in a warning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agentlib.errors import SandboxError, TaskFormatError
from agentlib.model import TestCase
from agentlib.sandbox import cases_from, run
from agentlib.sandbox.cases import python_literal
from agentlib.verify.domain import generate_inputs
from agentlib.verify.observe import observe
from agentlib.verify.probe import Outcome, calls_for, outcomes, probe_case, read_outcome, run_cases


@dataclass(frozen=True)
class Counterexample:
    """An input on which the candidate and the independent implementation disagree."""

    call: str
    candidate: str
    """What the candidate returned (its repr)."""
    reference: str
    """What the independent implementation returned (its repr)."""


@dataclass
class Evidence:
    """What running the candidate next to an independent implementation showed."""

    generated: int = 0
    """In-domain inputs generated from the tests."""
    compared: int = 0
    """Inputs on which both returned a value that could be compared."""
    agreed: int = 0
    counterexamples: list[Counterexample] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    """The calls run on both programs, in order."""
    reference_passed: bool = True
    """Whether the independent implementation passed the task's tests (if not: no comparison)."""


def _close(a: Any, b: Any) -> bool:
    """Equal, up to float rounding anywhere inside."""
    if isinstance(a, float) or isinstance(b, float):
        return (isinstance(a, (int, float)) and isinstance(b, (int, float))
                and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9))
    if isinstance(a, (list, tuple)) and type(a) is type(b):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _judged_case(call: str, expected: Outcome) -> TestCase | None:
    if not expected.complete:
        return None
    try:
        return TestCase(f"assert {call} == {python_literal(expected.value)}")
    except TaskFormatError:
        return None


def generated_calls(tests: Sequence[str | TestCase], entry_point: str, count: int = 40
                    ) -> list[str]:
    """The calls of `entry_point` on generated in-domain inputs that a comparison would run
    (empty: the tests have no literal call to vary, so no comparison is possible)."""
    found = observe(cases_from(list(tests)), entry_point)
    return [c for _, c in calls_for(entry_point, generate_inputs(found, count), found.keywords)]


def compare_with_reference(candidate: str, entry_point: str, tests: Sequence[str | TestCase],
                           reference: str, *, count: int = 40, timeout_s: float = 1.0,
                           shown: int = 5) -> Evidence:
    """Run `candidate` and `reference` (both self-contained programs) on in-domain inputs.

    :param tests: the task's tests; they give the inputs' domain, and `reference` must pass them.
    :param count: how many inputs to generate.
    :param timeout_s: wall and CPU seconds per call.
    :param shown: how many counterexamples to keep (all are counted in `compared - agreed`).
    :raises SandboxError: when the sandbox itself could not run.
    """
    cases = cases_from(list(tests))
    calls = generated_calls(cases, entry_point, count)
    evidence = Evidence(generated=len(calls), calls=calls)
    verdict = run(reference, cases)
    if verdict.ended == "isolation-error":
        raise SandboxError(f"the sandbox could not run the tests: {verdict.detail}")
    if not verdict.passed:
        evidence.reference_passed = False
        evidence.warnings.append("the independent implementation fails the task's tests; "
                                 "nothing was compared")
        return evidence
    if not calls:
        evidence.warnings.append(f"the tests have no literal call of {entry_point} to vary; "
                                 "nothing was compared")
        return evidence
    expected = outcomes(reference, calls, timeout_s)
    judged = [(i, _judged_case(c, e)) for i, (c, e) in enumerate(zip(calls, expected, strict=True))]
    judged = [(i, case) for i, case in judged if case is not None]
    results = run_cases(candidate, [case for _, case in judged] + [probe_case(c) for c in calls],
                        timeout_s).results
    mine = [read_outcome(r) for r in results[len(judged):]]
    raised: list[str] = []
    for (i, _), result in zip(judged, results, strict=False):
        if result.passed:
            evidence.compared += 1
            evidence.agreed += 1
        elif result.error_type != "AssertionError":
            raised.append(f"{calls[i]} ({mine[i].show()}, the other returned "
                          f"{expected[i].show()[:80]})")
        elif mine[i].complete and _close(mine[i].value, expected[i].value):
            evidence.compared += 1
            evidence.agreed += 1
        else:
            evidence.compared += 1
            if len(evidence.counterexamples) < shown:
                evidence.counterexamples.append(
                    Counterexample(calls[i], mine[i].show(), expected[i].show()))
    skipped = len(calls) - len(judged)
    if skipped:
        evidence.warnings.append(f"{skipped} of {len(calls)} generated inputs were not "
                                 "compared: the independent implementation raised, ran out of "
                                 "time or returned a value with no literal form")
    if raised:
        evidence.warnings.append(f"the candidate raised or ran out of time on {len(raised)} "
                                 f"input(s) where the independent implementation returned a "
                                 f"value, e.g. {raised[0]}")
    return evidence
