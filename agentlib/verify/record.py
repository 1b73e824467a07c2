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

    It is ``confirmed`` when no check rejected it and either an independent implementation
    agreed on at least `min_agreed` generated inputs with no counterexample, or no independent
    implementation ran and its tests are strong (see `tests_are_weak`).
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
    record.status = "confirmed" if agreed and not rejected else "unconfirmed"
    return record
