"""Re-run the evidence on stored modules (`agentlib lib check --reverify`): their tests and
every check always; with an LLM, the comparison with a fresh independent implementation (the
evidence step's own prompt). The new record replaces the stored one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentlib.agent.cross_check import ask_independent, usable_evidence
from agentlib.agent.policy import independent_sampling
from agentlib.model import Module, TestCase
from agentlib.sandbox import run as run_sandbox
from agentlib.verify.evidence import Evidence, compare_with_reference, generated_calls
from agentlib.verify.record import Verification, verification

if TYPE_CHECKING:
    from agentlib.runtime import Runtime


@dataclass
class Reverified:
    """What re-running the evidence on one module showed."""

    name: str
    version: int
    before: str
    """The stored status before ("" when none was recorded)."""
    record: Verification
    failed: str = ""
    """Why the module is not sound: a stored test fails, or a check rejects it ("": sound)."""
    llm_calls: int = 0


def _carried(previous: dict[str, Any]) -> Evidence | None:
    """The last comparison's figures, kept when no LLM is given to compare again."""
    if "independent" not in (previous.get("checks") or []) or not previous.get("compared"):
        return None
    agreed, compared = int(previous.get("agreed", 0)), int(previous["compared"])
    evidence = Evidence(compared=compared, agreed=agreed)
    if agreed < compared:
        evidence.warnings.append(
            f"disagreed with an independent implementation on {compared - agreed} of "
            f"{compared} generated inputs when last compared (give --llm/--model to compare "
            "again)")
    return evidence


def reverify_module(runtime: "Runtime", module: Module, llm: Any = None) -> Reverified:
    """Re-run `module`'s tests and checks (and with `llm` the comparison); store the record."""
    from agentlib.library.verified import set_verification

    library = runtime.library
    assert library is not None
    program = library.program_for(module)
    tests = [TestCase(t) for t in module.tests]
    found = Reverified(module.name, module.version, module.verification.get("status", ""),
                       Verification())
    verdict = run_sandbox(program, tests, runtime.limits)
    if not verdict.passed:
        first = verdict.failures[0] if verdict.failures else None
        found.failed = (f"stored test fails: {first.test} -> {first.error_type}" if first
                        else f"stored tests did not run: {verdict.ended} {verdict.detail}")
        found.record = Verification(tests_passed=sum(r.passed for r in verdict.results),
                                    warnings=[found.failed])
    else:
        checks = runtime.checks(module.source, program, module.name, tests, module.task_prompt)
        rejected = [f"{c.name}: {c.reject}" for c in checks if c.rejected]
        found.failed = "; ".join(rejected)
        notes: list[str] = []
        if llm is None:
            evidence = _carried(module.verification)
        elif not generated_calls(tests, module.name):
            evidence = None
            notes.append("no independent implementation asked: the tests have no literal "
                         "call to vary")
        else:
            checked, unusable = ask_independent(
                llm, module.task_prompt or module.docstring or module.signature, module.name,
                module.tests, independent_sampling(runtime.settings.repair_temperature))
            found.llm_calls = 1
            compared = None if unusable else compare_with_reference(
                program, module.name, tests, checked.reference)
            evidence = usable_evidence(compared)
            if evidence is None:
                notes.append("the independent implementation gave no evidence: " + (
                    unusable or "; ".join(compared.warnings if compared else [])))
        found.record = verification(tests, module.name, checks, evidence)
        found.record.warnings += notes
    set_verification(library, module.id, found.record.to_dict())
    return found


def reverify_library(runtime: "Runtime", llm: Any = None,
                     on_module: Callable[[Reverified], None] | None = None) -> list[Reverified]:
    """Re-run the evidence on every active module, in name order."""
    library = runtime.library
    assert library is not None
    done = []
    for module in library.list():
        found = reverify_module(runtime, module, llm)
        done.append(found)
        if on_module is not None:
            on_module(found)
    return done
