"""`validate`: judge the pending candidate — the sandbox, then every check (`Runtime.checks`)."""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from agentlib.agent import prompts
from agentlib.agent.context import SolveContext
from agentlib.agent.state import SolveState, proposed
from agentlib.model import Attempt, Rejection
from agentlib.sandbox import run as run_sandbox
from agentlib.verify.checks import SPECIAL_CASES

KEPT_OWN_COPIES = ("kept the model's own copies of library functions (the library's did not "
                   "pass)")
KEPT_EARLIER = ("the counterexample repair did not pass its tests and checks: kept the "
                "candidate that did")
WRITTEN_BLIND = ("written without the tests in view, so it cannot have special-cased them "
                 "(taken as a warning): ")
TEST_BLIND_KINDS = ("generate", "retry")
"""Attempts whose prompt does not show the tests when the model proposed them
(`requests.task_prompt`): the first candidates (`agreement.sample`) and the plain retry."""


def written_blind(state: SolveState, attempt: Attempt) -> bool:
    """The attempt was written from the text alone: the tests were proposed, and its prompt
    did not show them. Returning a test's expected value on its input is then the task's
    answer, not special-casing (a month table checked by proposed tests that use its months)."""
    return proposed(state) and attempt.kind in TEST_BLIND_KINDS


def judge(ctx: SolveContext, state: SolveState, attempt: Attempt) -> None:
    """Run `attempt`'s program against the task's tests; when it passes, run every check.

    Sets the attempt's verdict, its checks (with their warnings) and, when a check rejected
    it, its rejection: `special_cased` for the static check, `validator` for a plugin's. A
    candidate `written_blind` is not rejected as special-casing: that finding is a warning.
    """
    task = state["task"]
    attempt.verdict = run_sandbox(attempt.program, task.tests, ctx.limits)
    if not attempt.verdict.passed:
        return
    attempt.checks = ctx.runtime.checks(attempt.candidate, attempt.program,
                                        state["entry_point"], task.tests, task.prompt)
    if written_blind(state, attempt):
        attempt.checks = [dataclasses.replace(c, reject=None,
                                              warnings=(*c.warnings, WRITTEN_BLIND + c.reject))
                          if c.rejected and c.name == SPECIAL_CASES else c
                          for c in attempt.checks]
    static = [c for c in attempt.checks if c.rejected and c.name == SPECIAL_CASES]
    others = [c for c in attempt.checks if c.rejected and c.name != SPECIAL_CASES]
    if static:
        attempt.rejection = Rejection("special_cased",
                                      prompts.SPECIAL_CASED.format(detail=static[0].reject))
    elif others:
        attempt.rejection = Rejection("validator", prompts.VALIDATOR_REJECTED.format(
            rejections="; ".join(f"{c.name}: {c.reject}" for c in others)))

if TYPE_CHECKING:
    from langgraph.runtime import Runtime  # the nodes need only its `context`


def validate(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Run the candidate with its dependencies against the task's tests in the sandbox, then
    every check on a candidate that passed them; a check rejects only with evidence.

    A reply without a candidate is recorded as it is. The fallback is a second candidate:
    the model's own copies of library functions, tried when the library's versions fail the
    tests; or, for a counterexample repair, the candidate that passed before, kept when the
    repair does not pass.
    """
    start = time.monotonic()
    ctx = runtime.context
    attempt = dataclasses.replace(state["pending"], fallback=None)
    fallback = state["pending"].fallback
    if attempt.rejection is None:  # else the reply held no usable function
        judge(ctx, state, attempt)
    repaired = attempt.kind == "counterexample"
    if fallback is not None and not attempt.passed and (
            repaired or (attempt.rejection is None and attempt.verdict is not None)):
        other = dataclasses.replace(attempt, candidate=fallback.candidate,
                                    dependencies=list(fallback.dependencies),
                                    program=fallback.program, verdict=None, rejection=None,
                                    checks=[])
        judge(ctx, state, other)
        if other.passed or (not repaired and other.verdict is not None
                            and other.verdict.passed):
            other.notes = [*other.notes, KEPT_EARLIER if repaired else KEPT_OWN_COPIES]
            attempt = other
    attempt.validated_s = round(time.monotonic() - start, 4)
    return {"attempts": [attempt], "pending": None}
