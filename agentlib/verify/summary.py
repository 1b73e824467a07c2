"""How a verification record reads to a person: one line, then its warnings."""

from __future__ import annotations

from typing import Any

from agentlib.verify.record import Verification

NOT_RECORDED = ("not recorded (stored before modules kept how they were verified; "
                "`agentlib lib check --reverify` records it)")


def summary(record: Verification | dict[str, Any]) -> str:
    """One line: the status, the tests, the agreement with an independent implementation,
    the checks that ran."""
    if isinstance(record, dict):
        if not record:
            return NOT_RECORDED
        record = Verification.from_dict(record)
    parts = [f"{record.tests_passed} test(s) passed"]
    if "independent" in record.checks:
        parts.append(f"agreed with an independent implementation on {record.agreed} of "
                     f"{record.compared} generated input(s)")
    else:
        parts.append("no independent implementation compared")
    if record.checks:
        parts.append("checks: " + ", ".join(record.checks))
    return f"{record.status}: " + "; ".join(parts)


def warnings_of(record: Verification | dict[str, Any]) -> list[str]:
    """The record's warnings (what a check or the comparison was unsure of)."""
    if isinstance(record, dict):
        return [str(w) for w in record.get("warnings") or []]
    return list(record.warnings)
