"""The evidence step's rules, one per test, on constructed states (no model, no sandbox)."""

from __future__ import annotations

import pytest

from agentlib.agent.policy import (
    counterexample_due,
    cross_check_due,
    cross_check_mode,
    independent_sampling,
    reflects_after_store,
)
from agentlib.agent.state import CrossCheck, replies
from agentlib.config import ConfigError
from agentlib.model import Attempt, Reply, Task, Verdict
from agentlib.model import TestResult as Result
from agentlib.verify.evidence import Counterexample, Evidence

PASS = Verdict([Result("assert f(1) == 1", True)])
WEAK = Task.from_asserts("f", ["assert f(1) == 1", "assert f(2) == 2"])
STRONG = Task.from_asserts("f", [f"assert f({x}) == {x * 2}" for x in range(1, 7)])


def _state(task=WEAK, kinds=("generate",), program="p1", checked=None, max_attempts=6):
    attempts = [Attempt(kind=k, program=program, verdict=PASS, reply=Reply("…"))
                for k in kinds]
    return {"task": task, "entry_point": "f", "attempts": attempts,
            "max_attempts": max_attempts, "cross_check": checked}


def _checked(program="p1", counterexamples=1, passed=True, comparisons=1):
    shown = [Counterexample("f(3)", "3", "4")] * counterexamples
    evidence = Evidence(generated=20, compared=20, agreed=20 - counterexamples,
                        counterexamples=shown, reference_passed=passed)
    return CrossCheck(reply=Reply("ref", 7, 3), reference="def f(x): ...", compared=program,
                      evidence=evidence, comparisons=comparisons)


def test_the_first_comparison_follows_the_setting_and_the_tests_strength():
    assert cross_check_due(_state(), "weak") and cross_check_due(_state(STRONG), "always")
    assert not cross_check_due(_state(STRONG), "weak")
    assert not cross_check_due(_state(), "never")


def test_a_candidate_is_compared_again_once_and_only_when_the_repair_changed_it():
    changed = _state(kinds=("generate", "counterexample"), program="p2", checked=_checked())
    assert cross_check_due(changed, "weak")
    assert not cross_check_due({**changed, "cross_check": _checked(comparisons=2)}, "weak")
    kept = _state(kinds=("generate", "counterexample"), program="p1", checked=_checked())
    assert not cross_check_due(kept, "weak")
    failed_reference = _state(program="p2", checked=_checked(passed=False))
    assert not cross_check_due(failed_reference, "weak")


def test_one_counterexample_repair_per_task_within_the_attempts():
    assert counterexample_due(_state(checked=_checked()))
    assert not counterexample_due(_state(checked=_checked(counterexamples=0)))
    assert not counterexample_due(_state(kinds=("generate", "counterexample"),
                                         checked=_checked()))
    assert not counterexample_due(_state(checked=_checked(), max_attempts=1))


def test_the_independent_call_is_counted_and_a_counterexample_repair_is_not_reflected_on():
    state = _state(kinds=("generate", "counterexample"), checked=_checked())
    assert [r.text for r in replies(state)] == ["…", "…", "ref"]
    assert not reflects_after_store(state["attempts"])
    assert reflects_after_store(_state(kinds=("generate", "restart", "counterexample"))[
        "attempts"])


def test_the_sampling_and_the_setting_are_checked():
    assert independent_sampling(0.7).options() == {"temperature": 0.7, "seed": 1009}
    assert independent_sampling(0.0).options() == {}
    assert cross_check_mode("always") == "always"
    with pytest.raises(ConfigError, match="AGENTLIB_CROSS_CHECK"):
        cross_check_mode("often")
