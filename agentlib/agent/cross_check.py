"""Evidence beyond weak tests: `cross_check` asks for one independent implementation and runs
it next to the candidate on generated in-domain inputs; `counterexample` shows the model an
input where the two disagree. When which runs: `policy.cross_check_due`,
`policy.counterexample_due`.

The independent implementation is asked for once per task, from the task as without a
library (`prompts.INDEPENDENT` appended), sampled with a seed of its own; it never sees the
candidate. It must pass the task's tests to count as evidence.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from agentlib.agent import prompts
from agentlib.agent.ask import ask
from agentlib.agent.context import SolveContext
from agentlib.agent.policy import Request, Sampling, independent_sampling
from agentlib.agent.requests import Shown
from agentlib.agent.retrieve import step
from agentlib.agent.state import CrossCheck, SolveState, last_attempt
from agentlib.code import ExtractionError, extract, first_call
from agentlib.model import Check, Fallback, Reply, TestCase
from agentlib.verify.evidence import Evidence, compare_with_reference, generated_calls
from agentlib.verify.record import Verification, verification

if TYPE_CHECKING:
    from langgraph.runtime import Runtime  # the nodes need only its `context`

SHOWN_COUNTEREXAMPLES = 3
"""Inputs the counterexample repair shows the model."""


def independent_messages(prompt: str, name: str, tests: list[str]) -> list[dict[str, str]]:
    """The conversation asking for an independent implementation of `name`."""
    user = prompts.GENERATE.format(prompt=prompt, name=name, tests=prompts.format_tests(tests),
                                   library="", insights="") + prompts.INDEPENDENT
    return [{"role": "system", "content": prompts.SYSTEM}, {"role": "user", "content": user}]


def ask_independent(llm: Any, prompt: str, name: str, tests: list[str],
                    sampling: Sampling) -> tuple[CrossCheck, str]:
    """Ask `llm` for an independent implementation; return its record and, when the reply
    holds no usable function, why ("" when it does)."""
    messages = independent_messages(prompt, name, tests)
    completion = llm.complete(messages, **sampling.options())
    record = CrossCheck(messages, Reply(completion.text, completion.prompt_tokens,
                                        completion.completion_tokens, completion.latency_s),
                        sampling.temperature, sampling.seed)
    try:
        record.reference = extract(completion.text, name, set(), first_call(tests, name)).source
    except ExtractionError as exc:
        return record, str(exc)
    return record, ""


def usable_evidence(evidence: Evidence | None) -> Evidence | None:
    """The evidence a comparison gives: none when the independent implementation failed the
    tests or no input could be compared."""
    if evidence is None or not evidence.reference_passed or evidence.compared == 0:
        return None
    return evidence


def recorded_verification(tests: list[TestCase], name: str, checks: list[Check],
                          checked: CrossCheck | None, program: str) -> Verification:
    """How `program` was verified: its tests, its checks, and the comparison with the
    independent implementation when that last ran on this very program."""
    evidence = None
    if checked is not None and checked.compared == program:
        evidence = usable_evidence(checked.evidence)
    return verification(tests, name, checks, evidence)


def module_verification(state: SolveState) -> Verification:
    """How the candidate about to be stored was verified (`Module.verification`)."""
    attempt = last_attempt(state)
    assert attempt is not None and attempt.passed
    return recorded_verification(state["task"].tests, state["entry_point"], attempt.checks,
                                 state.get("cross_check"), attempt.program)


def describe_evidence(evidence: Evidence) -> tuple[str, str]:
    """The trace's (decision, detail) for one comparison."""
    if not evidence.reference_passed:
        return "no evidence", ("the independent implementation fails the task's tests, so it "
                               "is no evidence either way")
    if evidence.counterexamples:
        first = evidence.counterexamples[0]
        return "disagrees", (f"on {evidence.compared - evidence.agreed} of {evidence.compared} "
                             f"generated inputs, e.g. {first.call}: {first.candidate} here, "
                             f"{first.reference} independently")
    if evidence.compared == 0:
        return "no evidence", "; ".join(evidence.warnings) or "nothing was compared"
    detail = f"{evidence.agreed}/{evidence.compared} generated inputs agree"
    return "agrees", "; ".join([detail, *evidence.warnings])


def cross_check(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Compare the candidate that passed its tests and checks with an independent
    implementation, asked for now (one LLM call) or kept from the first comparison."""
    start = time.monotonic()
    ctx = runtime.context
    task, entry = state["task"], state["entry_point"]
    tests = [t.source for t in task.tests]
    attempt = last_attempt(state)
    assert attempt is not None and attempt.passed
    checked, tokens, again = state.get("cross_check"), 0, state.get("cross_check") is not None
    if checked is None:
        if not generated_calls(task.tests, entry):
            return {"cross_check": CrossCheck(), "steps": step(
                "cross_check", "skipped", f"the tests have no literal call of {entry} to vary: "
                "no independent implementation asked", start, state)}
        sampling = independent_sampling(ctx.settings.repair_temperature)
        checked, unusable = ask_independent(ctx.llm(), task.prompt, entry, tests, sampling)
        assert checked.reply is not None
        tokens = checked.reply.prompt_tokens + checked.reply.completion_tokens
        if unusable:
            return {"cross_check": checked, "steps": step(
                "cross_check", "no evidence", f"asked for an independent implementation: "
                f"{unusable}", start, state, tokens)}
    else:
        checked = dataclasses.replace(checked)
    checked.evidence = compare_with_reference(attempt.program, entry, task.tests,
                                              checked.reference)
    checked.compared, checked.comparisons = attempt.program, checked.comparisons + 1
    decision, detail = describe_evidence(checked.evidence)
    status = recorded_verification(task.tests, entry, attempt.checks, checked,
                                   attempt.program).status
    decision = f"{'re-compared: ' if again else ''}{decision} ({status})"
    return {"cross_check": checked, "steps": step("cross_check", decision, detail, start, state,
                                                  tokens)}


def counterexample_feedback(evidence: Evidence, name: str) -> str:
    """The counterexample repair's message: the inputs, both results, the question."""
    cases = "\n".join(prompts.COUNTEREXAMPLE_CASE.format(call=c.call, candidate=c.candidate,
                                                         reference=c.reference)
                      for c in evidence.counterexamples[:SHOWN_COUNTEREXAMPLES])
    return prompts.COUNTEREXAMPLE.format(count=evidence.compared - evidence.agreed,
                                         compared=evidence.compared, cases=cases, name=name)


def counterexample(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Show the model, in its own conversation, the inputs where the independent
    implementation disagreed; the candidate that passed stays the fallback."""
    last = last_attempt(state)
    checked = state["cross_check"]
    assert last is not None and last.reply is not None and checked is not None
    assert checked.evidence is not None
    feedback = counterexample_feedback(checked.evidence, state["entry_point"])
    messages = [*last.messages[:2], {"role": "assistant", "content": last.reply.text},
                {"role": "user", "content": feedback}]
    shown = Shown(list(last.modules_shown), last.code_shown, list(last.lessons_shown))
    update = ask(state, runtime.context, Request("counterexample", messages), shown)
    update["pending"].fallback = Fallback(last.candidate, list(last.dependencies), last.program)
    return update
