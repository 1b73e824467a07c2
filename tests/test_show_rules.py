"""What the prompt shows of the library, decided from each module's and insight's record
(`agent/policy.py`): one test per rule, then the evidence counted by real solves, with the
real Chroma library and sandbox. The LLM is scripted wherever a test is about the prompt or
the counters, not about the model's answers."""

from __future__ import annotations

import dataclasses

import pytest
import scenarios

from agentlib.agent import Agent
from agentlib.agent.policy import (
    MISLEAD_EVIDENCE,
    UNUSED_AFTER,
    insight_misleads,
    module_misleads,
    module_unused,
    modules_to_show,
    named_by_task,
)
from agentlib.config import Settings
from agentlib.llm import Completion
from agentlib.model import Hit, Insight, Module, Task

COUNT_BELOW = Task.from_asserts(
    "Write a function count_primes_below(n) that counts the prime numbers below n.",
    ["assert count_primes_below(10) == 4", "assert count_primes_below(20) == 8"], id="below")
PRIME_SUM = Task.from_asserts(
    "Write a function prime_sum(n) that returns the sum of the prime numbers below n.",
    ["assert prime_sum(10) == 17", "assert prime_sum(3) == 2"], id="sum")
PRIME_CHECK = Task.from_asserts(
    "Tell whether a whole number is prime.",
    ["assert prime_check(7)", "assert not prime_check(8)", "assert not prime_check(1)"],
    id="check")


def _module(**counters) -> Module:
    return dataclasses.replace(scenarios.is_prime_module(), **counters)


class Scripted:
    """Answers with the given replies in turn and keeps every conversation it was sent."""

    name = "scripted"

    def __init__(self, *replies: str) -> None:
        self.replies, self.seen = list(replies), []

    def complete(self, messages, **options):
        self.seen.append(messages)
        return Completion("```python\n" + self.replies.pop(0) + "\n```")


def _agent(tmp_path, library, llm, pm) -> Agent:
    return Agent(Settings(store=str(tmp_path / "s"), llm="scripted"), llm=llm, library=library,
                 pm=pm)


def _retrieve_detail(result) -> str:
    return next(s.detail for s in result.trace if s.node == "retrieve")


@pytest.mark.parametrize("failed, passed, misleads", [
    (0, 0, False), (1, 0, False), (MISLEAD_EVIDENCE, 0, True), (2, 2, False), (3, 2, True)])
def test_a_module_misleads_when_first_attempts_with_it_failed_more_than_they_passed(
        failed, passed, misleads):
    module = _module(times_shown=failed + passed, times_shown_failed=failed,
                     times_shown_passed=passed)
    assert module_misleads(module) is misleads


@pytest.mark.parametrize("shown, called, unused", [
    (0, 0, False), (UNUSED_AFTER - 1, 0, False), (UNUSED_AFTER, 0, True), (UNUSED_AFTER, 1, False)])
def test_a_module_shown_often_and_never_called_is_unused(shown, called, unused):
    assert module_unused(_module(times_shown=shown, times_shown_called=called)) is unused


def test_a_module_the_task_names_is_named_by_it_in_the_text_or_the_tests():
    module = _module()
    assert named_by_task(module, scenarios.COUNT_PRIMES)  # "Use the library function is_prime(n)"
    assert named_by_task(module, Task.from_asserts("Count primes.", [
        "assert count(10) == sum(map(is_prime, range(10)))"]))
    assert not named_by_task(module, COUNT_BELOW)
    assert not named_by_task(module, Task.from_asserts("Use is_prime_fast.", ["assert f(1)"]))


def test_an_insight_that_misled_more_than_it_helped_is_not_shown():
    lesson = Insight(id="x", taxonomy="numbers/primes", condition="c", explanation="e")
    assert not insight_misleads(lesson)  # no record yet
    assert insight_misleads(dataclasses.replace(lesson, misled=1))
    assert not insight_misleads(dataclasses.replace(lesson, misled=2, helped=2))


def test_with_no_record_yet_the_modules_shown_are_those_within_the_distance_limit():
    near, far = _module(), dataclasses.replace(_module(), name="other", id="other")
    hits = [Hit(near, 0.3), Hit(far, 0.7)]
    assert modules_to_show(hits, COUNT_BELOW, 0.6) == [near]
    assert modules_to_show(hits, COUNT_BELOW, 0.8) == [near, far]
    misleading = _module(times_shown=2, times_shown_failed=2)
    assert modules_to_show([Hit(misleading, 0.3)], COUNT_BELOW, 0.6) == []
    assert modules_to_show([Hit(misleading, 0.3)], scenarios.COUNT_PRIMES, 0.6) == [misleading]


def test_each_first_attempt_counts_on_the_modules_it_was_shown(tmp_path, library, builtin_pm):
    library.add(scenarios.is_prime_module())
    llm = Scripted(
        "def count_primes_below(n):\n    return sum(1 for k in range(n) if is_prime(k))",
        "def prime_sum(n):\n    return n",  # wrong with the library in view
        "def prime_sum(n):\n    return sum(k for k in range(2, n) if all(k % d for d in "
        "range(2, k)))")  # the plain retry, standalone
    agent = _agent(tmp_path, library, llm, builtin_pm)
    assert agent.solve(COUNT_BELOW).decision == "created"
    after = library.get("is_prime")
    assert (after.times_shown, after.times_shown_passed, after.times_shown_failed,
            after.times_shown_called) == (1, 1, 0, 1)
    assert agent.solve(PRIME_SUM).decision == "repaired"
    after = library.get("is_prime")
    assert (after.times_shown, after.times_shown_passed, after.times_shown_failed,
            after.times_shown_called) == (2, 1, 1, 1)
    # The counters survive a reopen of the store (they are part of the Chroma record).
    from agentlib.library.store import Library

    again = Library(library.location, library.embedder).get("is_prime")
    assert (again.times_shown, again.times_shown_failed) == (2, 1)
    assert library.check() == []


def test_a_misleading_module_leaves_the_prompt_but_is_still_reused(tmp_path, library,
                                                                    builtin_pm):
    library.add(_module(times_shown=2, times_shown_failed=2))
    llm = Scripted("def prime_sum(n):\n    return sum(k for k in range(2, n) if all(k % d for d"
                   " in range(2, k)))",
                   "def count_primes(n):\n    return sum(is_prime(k) for k in range(n))")
    agent = _agent(tmp_path, library, llm, builtin_pm)
    result = agent.solve(PRIME_SUM)
    assert result.decision == "created"
    assert "These verified functions" not in llm.seen[0][-1]["content"]
    assert "not shown: is_prime (first attempts with it in view failed 2, passed 0)" in \
        _retrieve_detail(result)
    assert library.get("is_prime").times_shown == 2  # not shown: nothing counted
    # A task that names it still sees it; one it solves still reuses it with no LLM call.
    assert agent.solve(scenarios.COUNT_PRIMES).decision == "created"
    assert "is_prime(n): " in llm.seen[1][-1]["content"]
    reused = agent.solve(PRIME_CHECK)
    assert (reused.decision, reused.llm_calls, reused.modules_used) == ("reused", 0, ["is_prime"])


def test_a_misleading_lesson_is_not_shown(tmp_path, library, builtin_pm):
    lesson = Insight(id="", taxonomy="numbers/arithmetic/product",
                     condition="When a function combines two integers into one value.",
                     explanation="Look at the examples: combining may mean multiplying them.")
    library.insights.add(dataclasses.replace(lesson, misled=1))
    llm = Scripted("def combine(a, b):\n    return a * b")
    result = _agent(tmp_path, library, llm, builtin_pm).solve(scenarios.MISLEADING)
    assert result.decision == "created" and result.insights_used == []
    assert "Lessons learned" not in llm.seen[0][-1]["content"]
    assert "not shown (misled more than helped): numbers/arithmetic/product" in \
        _retrieve_detail(result)
