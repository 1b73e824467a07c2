"""The agent's policy, one rule per test, on constructed attempt records (no model, no
sandbox), and the iteration record that the result and the trace are read from."""

from __future__ import annotations

import typing

import pytest
import scenarios
from conftest import RECORDINGS

from agentlib.agent import prompts
from agentlib.agent.policy import (
    Sampling,
    lessons_helped,
    lessons_misled,
    next_kind,
    reflects_after_store,
    route_after_validate,
    route_start,
    sampling,
)
from agentlib.model import Attempt, Rejection, RejectionKind, Reply, Verdict
from agentlib.model import TestResult as Case

PASS = Verdict([Case("assert f(1) == 1", True)])
FAIL = Verdict([Case("assert f(1) == 1", False, "AssertionError")])


def _attempt(kind="generate", verdict=FAIL, rejection=None, modules=(), lessons=()):
    return Attempt(kind=kind, candidate="def f(x):\n    return x\n", program="…",
                   verdict=verdict, rejection=rejection, reply=Reply("…", 10, 5),
                   modules_shown=list(modules), lessons_shown=list(lessons))


def test_a_rejection_is_answered_in_the_same_conversation():
    rejected = _attempt(verdict=None, rejection=Rejection("arity", "takes 2"), modules=["g"])
    assert next_kind([rejected]) == "repair"
    assert next_kind([_attempt(), _attempt("restart"), rejected]) == "repair"


def test_a_first_answer_written_with_the_library_in_view_is_retried_without_it():
    assert next_kind([_attempt(modules=["is_prime"])]) == "retry"
    assert next_kind([_attempt(lessons=["abc"])]) == "retry"
    assert next_kind([_attempt()]) == "repair"  # nothing shown: repair from the failures


def test_after_a_second_failure_the_agent_restarts_afresh():
    assert next_kind([_attempt(modules=["g"]), _attempt("retry")]) == "restart"
    assert next_kind([_attempt(), _attempt("repair"), _attempt("restart")]) == "restart"


def test_the_route_ends_with_a_reflection_when_attempts_run_out():
    from types import SimpleNamespace

    from agentlib.config import Settings

    runtime = SimpleNamespace(context=SimpleNamespace(settings=Settings(cross_check="never")))
    state = {"attempts": [_attempt(), _attempt("repair")], "max_attempts": 2}
    assert route_after_validate(state, runtime) == "reflect"
    state["max_attempts"] = 3
    assert route_after_validate(state, runtime) == "restart"
    state["attempts"].append(_attempt("restart", verdict=PASS))
    assert route_after_validate(state, runtime) == "store"


def test_the_start_goes_on_where_try_reuse_s_router_would_once_the_library_was_looked_in():
    """`Agent.solve` runs retrieve and try_reuse as plain functions and hands the graph that
    state: it must not look in the library again, nor start from generate after a reuse."""
    from types import SimpleNamespace

    from agentlib.config import Settings
    from agentlib.model import Task

    runtime = SimpleNamespace(context=SimpleNamespace(settings=Settings(cross_check="never")))
    task = Task.from_asserts("Return x.", ["assert f(1) == 1"])
    assert route_start({"task": task, "attempts": []}, runtime) == "retrieve"
    assert route_start({"task": Task("Return x.", []), "attempts": []}, runtime) == "propose"
    looked = {"task": task, "attempts": [], "hits": []}
    assert route_start(looked, runtime) == "generate"
    reuse = _attempt("reuse", verdict=PASS)
    assert route_start({**looked, "attempts": [reuse]}, runtime) == "finish"


def test_repairs_and_restarts_are_sampled_and_seeded_the_first_answer_and_retry_greedy():
    assert sampling("generate", 0, 0.7) == Sampling() and Sampling().options() == {}
    assert sampling("retry", 1, 0.7) == Sampling()
    assert sampling("repair", 1, 0.7).options() == {"temperature": 0.7, "seed": 1}
    assert sampling("restart", 3, 0.7) == Sampling(0.7, 3)
    assert sampling("restart", 3, 0.0) == Sampling()  # repair_temperature 0: greedy


def test_no_reflection_after_a_passing_plain_retry():
    assert not reflects_after_store([_attempt(modules=["g"]), _attempt("retry", PASS)])
    assert reflects_after_store([_attempt(), _attempt("repair", PASS)])
    assert not reflects_after_store([_attempt(verdict=PASS)])


def test_lessons_count_as_helping_or_misleading():
    first_pass = {"attempts": [_attempt(verdict=PASS, lessons=["l"])]}
    assert lessons_helped(first_pass) and not lessons_misled(first_pass)
    retried = {"attempts": [_attempt(lessons=["l"]), _attempt("retry", PASS)]}
    assert lessons_misled(retried) and not lessons_helped(retried)
    beside_a_module = {"attempts": [_attempt(lessons=["l"], modules=["g"]),
                                    _attempt("retry", PASS)]}
    assert not lessons_misled(beside_a_module)  # the module is as likely to blame
    reused = {"attempts": [_attempt("reuse", PASS)]}
    assert not lessons_helped(reused)


def test_every_kind_of_rejection_has_its_prompt():
    assert set(prompts.REJECTED) == set(typing.get_args(RejectionKind))
    text = prompts.REJECTED["special_cased"].format(reason="it looks up the inputs", name="f")
    assert text.startswith("Your reply was rejected: it looks up the inputs.")
    assert "`f`" in text


@pytest.fixture
def misleading(tmp_path, library, builtin_pm):
    """The misleading task solved on recorded real completions; the result and the state."""
    from agentlib.agent.context import SolveContext
    from agentlib.agent.graph import build_graph
    from agentlib.agent.views import result
    from agentlib.config import Settings
    from agentlib.llm.replay import ReplayLLM
    from agentlib.runtime import Runtime

    runtime = Runtime(Settings(store=str(tmp_path / "s"), llm="replay"), pm=builtin_pm,
                      library=library, llm=ReplayLLM(RECORDINGS / "agent.json"))
    task = scenarios.MISLEADING
    state = build_graph().compile().invoke(
        {"task": task, "entry_point": "combine", "max_attempts": 6, "attempts": [],
         "steps": []}, context=SolveContext(runtime))
    return result(task, "combine", state, 0.0), state


def test_one_record_per_iteration_and_the_result_is_a_view_of_them(misleading):
    """On recorded real completions: six attempts, each with its request and judgement."""
    result, state = misleading
    attempts = state["attempts"]
    assert [a.kind for a in attempts] == ["generate", "repair"] + ["restart"] * 4
    assert all(a.messages and a.reply is not None and not a.passed for a in attempts)
    assert [a.seed for a in attempts] == [None, 1, 2, 3, 4, 5]
    assert attempts[0].temperature is None and attempts[1].temperature == 0.7
    assert attempts[1].messages[2] == {"role": "assistant", "content": attempts[0].reply.text}
    replies = [a.reply for a in attempts] + [state["reflection"]]
    assert result.llm_calls == 7
    assert result.completion_tokens == sum(r.completion_tokens for r in replies)
    assert result.prompt_tokens == sum(r.prompt_tokens for r in replies)
    validate_lines = [s for s in result.trace if s.node == "validate"]
    assert len(validate_lines) == 6 and result.program == attempts[-1].program
