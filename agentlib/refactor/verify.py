"""Verify a proposal in the sandbox before anything is written.

Accepted only when: every rewritten module passes all its stored tests with its new
dependency closure (helper + rewrites + the rest of the library); every active module that
depends on a rewritten one still passes its tests; the helper is called on the rewritten
modules' test inputs, and passes the tests derived from those calls when run alone; and the
cluster's code does not grow.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from agentlib.code import dependencies, docstring, module_id, program_source, signature
from agentlib.errors import TaskFormatError
from agentlib.model import Module
from agentlib.refactor.programs import closure, first_failure, run_stored_tests, source_lines
from agentlib.refactor.records import Check, Proposal
from agentlib.sandbox import Limits, cases_from, run
from agentlib.sandbox.cases import python_literal

MARK = "@agentlib-call@ "
MAX_HELPER_TESTS = 12

RECORDER = '''

def _agentlib_record(function):
    import sys

    def recorded(*args, **kwargs):
        result = function(*args, **kwargs)
        sys.stderr.write({mark!r} + repr((args, kwargs, result)) + "\\n")
        return result
    return recorded


{name} = _agentlib_record({name})
'''


@dataclass
class Verification:
    """The verdict on one proposal and, when accepted, the records to store."""

    accepted: bool
    reason: str
    checks: list[Check] = field(default_factory=list)
    helper: Module | None = None
    versions: list[Module] = field(default_factory=list)
    helper_tests: list[str] = field(default_factory=list)
    lines_before: int = 0
    lines_after: int = 0


def helper_call_test(name: str, args: tuple, kwargs: dict, result) -> str:
    """Return `assert name(args, k=v) == result` (TaskFormatError: no literal form)."""
    shown = [python_literal(a) for a in args]
    shown += [f"{k}={python_literal(v)}" for k, v in kwargs.items()]
    return f"assert {name}({', '.join(shown)}) == {python_literal(result)}"


def _observed_calls(stderr: str) -> list[tuple[tuple, dict, object]]:
    calls = []
    for line in stderr.split("\n"):
        if not line.startswith(MARK):
            continue
        try:
            args, kwargs, result = ast.literal_eval(line[len(MARK):])
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue  # truncated or not a literal: that call gives no test
        if isinstance(args, tuple) and isinstance(kwargs, dict):
            calls.append((args, kwargs, result))
    return calls


def build_modules(library, originals: list[Module], proposal: Proposal,
                  provenance: str) -> tuple[Module, list[Module]]:
    """Return the helper record (no tests yet) and the new versions of the rewritten modules."""
    active = {m.name for m in library.list()} | {proposal.helper_name}
    helper_source = proposal.helper_source
    helper = Module(id=module_id(helper_source), name=proposal.helper_name, source=helper_source,
                    signature=signature(helper_source, proposal.helper_name),
                    docstring=docstring(helper_source, proposal.helper_name), tests=[],
                    dependencies=dependencies(helper_source, active - {proposal.helper_name}),
                    task_prompt=f"Helper extracted by `agentlib refactor` from "
                                f"{', '.join(sorted(proposal.rewrites))}.",
                    task_id=f"refactor:{'+'.join(sorted(proposal.rewrites))}",
                    backend="refactor", model=provenance)
    versions = []
    for old in originals:
        if old.name not in proposal.rewrites:
            continue
        source = proposal.rewrites[old.name]
        versions.append(Module(
            id=module_id(source), name=old.name, source=source,
            signature=signature(source, old.name), docstring=docstring(source, old.name) or old.docstring,
            tests=list(old.tests), dependencies=dependencies(source, active - {old.name}),
            task_prompt=old.task_prompt, task_id=old.task_id, backend="refactor",
            model=provenance, times_retrieved=old.times_retrieved,
            times_reused=old.times_reused, times_failed=old.times_failed))
    return helper, versions


def check_rewrites(library, versions: list[Module], overrides: dict[str, Module],
                   limits: Limits | None = None, recorder: str = "",
                   ) -> tuple[list[Check], str, list[str]]:
    """Run the stored tests of `versions` and of the active modules that depend on them.

    Return the checks, the reason of the first failure ('' when all pass) and the stderr
    of the rewrites' tests (where `recorder` logs helper calls).
    """
    checks: list[Check] = []
    stderr: list[str] = []
    for version in versions:
        program = program_source(closure(library, version, overrides))
        verdict = run_stored_tests(program + recorder, version, limits)
        passed = sum(r.passed for r in verdict.results)
        checks.append(Check(version.name, "rewrite", len(version.tests), passed,
                            first_failure(verdict)))
        if not verdict.passed:
            return checks, f"rewritten {version.name} fails: {first_failure(verdict)}", stderr
        stderr += [r.stderr for r in verdict.results]
    rewritten = {v.name for v in versions}
    dependents = sorted({d for name in rewritten for d in library.dependents(name)} - rewritten)
    for name in dependents:
        module = library.get(name)
        verdict = run_stored_tests(program_source(closure(library, module, overrides)), module, limits)
        passed = sum(r.passed for r in verdict.results)
        checks.append(Check(name, "dependent", len(module.tests), passed, first_failure(verdict)))
        if not verdict.passed:
            return (checks, f"{name}, which calls a rewritten module, fails: "
                            f"{first_failure(verdict)}", stderr)
    return checks, "", stderr


def verify(library, originals: list[Module], proposal: Proposal, provenance: str,
           limits: Limits | None = None) -> Verification:
    """Check `proposal` against every stored test it could break; write nothing."""
    if library.get(proposal.helper_name) is not None:
        return Verification(False, f"the helper's name {proposal.helper_name} is already an "
                                   "active module")
    helper, versions = build_modules(library, originals, proposal, provenance)
    overrides = {helper.name: helper, **{v.name: v for v in versions}}
    result = Verification(False, "", helper=helper, versions=versions)
    recorder = RECORDER.format(mark=MARK, name=helper.name)
    result.checks, result.reason, stderr = check_rewrites(library, versions, overrides, limits,
                                                          recorder)
    if result.reason:
        return result
    calls = [call for text in stderr for call in _observed_calls(text)]
    rewritten = {v.name for v in versions}
    tests: list[str] = []
    for args, kwargs, value in calls:
        try:
            test = helper_call_test(helper.name, args, kwargs, value)
        except TaskFormatError:
            continue
        if test not in tests:
            tests.append(test)
    tests = tests[:MAX_HELPER_TESTS]
    if not tests:
        result.reason = (f"the rewritten modules never call {helper.name} with literal "
                         "arguments and result on their tests; no helper tests can be derived")
        return result
    helper.tests = tests
    verdict = run(program_source(closure(library, helper, overrides)), cases_from(tests), limits)
    passed = sum(r.passed for r in verdict.results)
    result.checks.append(Check(helper.name, "helper", len(tests), passed, first_failure(verdict)))
    if not verdict.passed:
        result.reason = f"the helper fails the tests derived from its calls: {first_failure(verdict)}"
        return result
    result.helper_tests = tests
    result.lines_before = sum(source_lines(m.source) for m in originals if m.name in rewritten)
    result.lines_after = source_lines(helper.source) + sum(source_lines(v.source) for v in versions)
    if result.lines_after > result.lines_before:
        result.reason = (f"the refactor would grow the code ({result.lines_before} -> "
                         f"{result.lines_after} lines)")
        return result
    result.accepted = True
    result.reason = "verified"
    return result
