"""`validate`: judge the pending candidate — the static check, the sandbox, the validators."""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from agentlib.agent import prompts
from agentlib.agent.context import SolveContext
from agentlib.agent.state import SolveState
from agentlib.model import Rejection
from agentlib.sandbox import run as run_sandbox
from agentlib.sandbox import special_cases_tests

if TYPE_CHECKING:
    from langgraph.runtime import Runtime  # the nodes need only its `context`


def validate(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Run the candidate with its dependencies against the task's tests in the sandbox.

    In order: a reply without a candidate is recorded as it is; a candidate that
    special-cases the test inputs is rejected unrun; the program runs in the sandbox, and
    when it fails the model's own copies of library functions (the fallback) run instead;
    a program that passes goes to the validator plugins (`Runtime.validate`).
    """
    start = time.monotonic()
    ctx = runtime.context
    attempt = dataclasses.replace(state["pending"], fallback=None)
    tests = state["task"].tests

    def done() -> dict[str, Any]:
        attempt.validated_s = round(time.monotonic() - start, 4)
        return {"attempts": [attempt], "pending": None}

    if attempt.rejection is not None:  # the reply held no usable function
        return done()
    cheat = special_cases_tests(attempt.candidate, tests)
    if cheat:
        attempt.rejection = Rejection("special_cased", prompts.SPECIAL_CASED.format(detail=cheat))
        return done()
    verdict = run_sandbox(attempt.program, tests, ctx.limits)
    fallback = state["pending"].fallback
    if not verdict.passed and fallback is not None:
        # The library's version of a function the model also wrote did not fit: try the
        # model's own copy before calling it a failure.
        own = run_sandbox(fallback.program, tests, ctx.limits)
        if own.passed:
            verdict = own
            attempt.candidate, attempt.dependencies = fallback.candidate, fallback.dependencies
            attempt.program = fallback.program
            attempt.notes = [*attempt.notes, "kept the model's own copies of library "
                             "functions (the library's did not pass)"]
    attempt.verdict = verdict
    if verdict.passed:
        rejections = ctx.runtime.validate(attempt.program, state["entry_point"],
                                          [t.source for t in tests])
        if rejections:
            attempt.rejection = Rejection("validator", prompts.VALIDATOR_REJECTED.format(
                rejections="; ".join(rejections)))
    return done()
