"""How a module was verified: the record the library stores with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from agentlib.model import TestCase
from agentlib.verify.check import Check
from agentlib.verify.observe import observe

if TYPE_CHECKING:
    from agentlib.verify.evidence import Evidence

Status = Literal["confirmed", "unconfirmed"]
MIN_AGREED = 10
"""Generated inputs an independent implementation must agree on to confirm a module."""
STRONG_TESTS = 5
"""Distinct literal inputs (with varied expected results) that make tests strong on their own."""


@dataclass
class Verification:
    """Tests passed, agreement with an independent implementation, checks run, warnings."""

    tests_passed: int = 0
    agreed: int = 0
    """Generated inputs on which an independent implementation returned the same value."""
    compared: int = 0
    """Generated inputs on which both returned comparable values (agreed or not)."""
    checks: list[str] = field(default_factory=list)
    """Names of the checks that ran (``special-cases``, each validator, ``independent``)."""
    warnings: list[str] = field(default_factory=list)
    status: Status = "unconfirmed"
    proposed: list[str] = field(default_factory=list)
    """Tests proposed by the model (no person wrote them): the module stays unconfirmed until
    `confirmed` is recorded (`agentlib lib confirm`, or given tests it passes)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Verification":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def tests_are_weak(tests: Sequence[str | TestCase], entry_point: str,
                   strong: int = STRONG_TESTS) -> bool:
    """Tell whether the tests alone are weak evidence: few distinct inputs or one result."""
    seen = observe(tests, entry_point)
    return len(seen.examples) < strong or len({repr(v) for v in seen.expected}) < 2


def verification(tests: Sequence[str | TestCase], entry_point: str, checks: Sequence[Check],
                 evidence: Evidence | None = None, min_agreed: int = MIN_AGREED
                 ) -> Verification:
    """Summarise the checks and evidence on a module that passed all of `tests`.

    It is ``confirmed`` when no check rejected it, none of its tests was proposed by the
    model (origin ``proposed``: they say what the model believes, not what was asked), and
    either an independent implementation agreed on at least `min_agreed` generated inputs with
    no counterexample, or no independent implementation ran and its tests are strong (see
    `tests_are_weak`).
    """
    names = [c.name for c in checks]
    warnings = [w for c in checks for w in c.warnings]
    record = Verification(tests_passed=len(tests), checks=names, warnings=warnings)
    if evidence is not None:
        record.checks.append("independent")
        record.agreed, record.compared = evidence.agreed, evidence.compared
        record.warnings += evidence.warnings
        record.warnings += [f"disagrees with an independent implementation on {c.call}: "
                            f"{c.candidate} vs {c.reference}" for c in evidence.counterexamples]
    rejected = any(c.rejected for c in checks)
    if evidence is not None:
        agreed = evidence.agreed >= min_agreed and evidence.agreed == evidence.compared
    else:
        agreed = not tests_are_weak(tests, entry_point)
    record.proposed = [t.source for t in tests if isinstance(t, TestCase)
                       and t.origin == "proposed"]
    if record.proposed:
        record.warnings.append(proposed_warning(record.proposed))
    holds = agreed and not rejected and not record.proposed
    record.status = "confirmed" if holds else "unconfirmed"
    return record


def proposed_warning(proposed: Sequence[str]) -> str:
    """The warning a record carries while its tests are the model's proposal."""
    return (f"{len(proposed)} test(s) proposed by the model, not checked by a person: "
            + "; ".join(proposed))


def confirmed(record: dict[str, Any], tests: Sequence[str], by: str) -> Verification:
    """The record of a module a person confirmed: `by` names how (``confirmed by hand``, or
    the given tests of a task it passed), `tests` the tests added that it passed.

    Promoting answers "did a person vouch for this module", the question proposing left
    open; its proposed tests and their warning are dropped, the rest of the record is kept.
    """
    promoted = Verification.from_dict(record)
    if promoted.proposed:
        gone = proposed_warning(promoted.proposed)
        promoted.warnings = [w for w in promoted.warnings if w != gone]
    promoted.proposed = []
    promoted.tests_passed += len(tests)
    promoted.checks.append(by)
    promoted.status = "confirmed"
    return promoted
