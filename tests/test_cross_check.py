"""The evidence step beyond weak tests (`cross_check`, `counterexample`) in the real graph,
with the real sandbox and a real Chroma library in tmp_path.

The LLM is scripted and registered through the real `register_llms` hook: these tests are
about the graph's routes, its budget and what gets stored, not about a model's answers. The
script answers by the kind of request (the first answer, the independent implementation, the
counterexample repair); the rest of the agent — extraction, sandbox, checks, comparison on
generated inputs, library — is the real one.
"""

from __future__ import annotations

import pytest

from agentlib.agent import Agent, prompts
from agentlib.agent.policy import INDEPENDENT_SEED
from agentlib.config import ConfigError, Settings
from agentlib.llm import Completion
from agentlib.model import Task
from agentlib.plugins import hookimpl, make_plugin_manager

WRONG_IS_PRIME = ("def is_prime(n):\n    if n < 2:\n        return False\n"
                  "    for d in range(2, int(n ** 0.5)):\n        if n % d == 0:\n"
                  "            return False\n    return True\n")
"""Misses the square root as a divisor: passes the three tests below, returns True for 4."""
RIGHT_IS_PRIME = ("def is_prime(n):\n    if n < 2:\n        return False\n"
                  "    return all(n % d for d in range(2, int(n ** 0.5) + 1))\n")
IS_PRIME = Task.from_asserts("Write a function is_prime(n) that tells whether n is a prime.",
                             ["assert is_prime(2)", "assert is_prime(29)",
                              "assert not is_prime(1)"], id="is-prime")
SQUARE = Task.from_asserts("Write a function square(x) that returns x squared.",
                           [f"assert square({x}) == {x * x}" for x in (1, 2, 3, 5, 12)],
                           id="square")


def request_kind(text: str) -> str:
    if prompts.COUNTEREXAMPLE.split("\n")[0] in text:
        return "counterexample"
    if prompts.INDEPENDENT.strip() in text:
        return "independent"
    if "TAXONOMY:" in text:
        return "reflect"
    return "generate"


class Scripted:
    """Answers each kind of request with the next of its scripted functions."""

    name = "scripted"

    def __init__(self, **answers: list[str] | str) -> None:
        self.answers = {k: [v] if isinstance(v, str) else list(v) for k, v in answers.items()}
        self.calls: list[tuple[str, list[dict[str, str]], dict]] = []

    def complete(self, messages, **options):
        kind = request_kind(messages[-1]["content"])
        self.calls.append((kind, messages, options))
        queue = self.answers.get(kind) or ["no code"]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return Completion(text=f"```python\n{answer}```" if "def " in answer else answer,
                          prompt_tokens=100, completion_tokens=20)

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.calls]


class ScriptedPlugin:
    def __init__(self, llm: Scripted) -> None:
        self.llm = llm

    @hookimpl
    def register_llms(self, register):
        register("scripted", lambda settings: self.llm)


def make_agent(tmp_path, library, llm: Scripted, plugins=(), **changes) -> Agent:
    """An agent on built-ins plus the scripted LLM (and `plugins`), through the real hooks."""
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(ScriptedPlugin(llm), name="scripted-llm")
    for number, plugin in enumerate(plugins):
        pm.register(plugin, name=f"test-plugin-{number}")
    settings = Settings(store=str(tmp_path / "store"), llm="scripted",
                        **{"cross_check": "weak", **changes})
    return Agent(settings, library=library, pm=pm)


def lines(result, node: str) -> list[tuple[str, str]]:
    return [(s.decision, s.detail) for s in result.trace if s.node == node]


def test_a_wrong_is_prime_passing_weak_tests_is_caught_and_repaired(tmp_path, library):
    llm = Scripted(generate=WRONG_IS_PRIME, independent=RIGHT_IS_PRIME,
                   counterexample=RIGHT_IS_PRIME)
    result = make_agent(tmp_path, library, llm).solve(IS_PRIME)
    assert llm.kinds() == ["generate", "independent", "counterexample"]
    assert (result.status, result.llm_calls, result.attempts) == ("solved", 3, 2)
    # the independent implementation never sees the candidate and is sampled with its seed
    _, independent, options = llm.calls[1]
    assert "range(2, int(n ** 0.5))" not in str(independent)
    assert IS_PRIME.prompt in independent[-1]["content"]
    assert options["temperature"] > 0 and options["seed"] == INDEPENDENT_SEED
    # the repair shows an input, the candidate's output and the other one's, in its conversation
    _, repair, _ = llm.calls[2]
    assert repair[2] == {"role": "assistant", "content": f"```python\n{WRONG_IS_PRIME}```"}
    assert "is_prime(" in repair[3]["content"]
    assert "your function returned True; the other returned False" in repair[3]["content"]
    first, again = lines(result, "cross_check")
    assert first[0] == "disagrees (unconfirmed)" and "True here, False independently" in first[1]
    assert again[0] == "re-compared: agrees (confirmed)"
    stored = library.get("is_prime")
    assert "+ 1" in stored.source
    record = stored.verification
    assert record["status"] == "confirmed" and record["agreed"] == record["compared"] >= 10
    assert record["checks"] == ["special-cases", "independent"] and record["tests_passed"] == 3


def test_a_candidate_the_model_defends_is_stored_unconfirmed_with_the_counterexample(
        tmp_path, library):
    llm = Scripted(generate=WRONG_IS_PRIME, independent=RIGHT_IS_PRIME,
                   counterexample=WRONG_IS_PRIME)
    result = make_agent(tmp_path, library, llm).solve(IS_PRIME)
    assert result.status == "solved" and result.llm_calls == 3
    assert len(lines(result, "cross_check")) == 1  # the same program is not compared again
    record = library.get("is_prime").verification
    assert record["status"] == "unconfirmed" and record["agreed"] < record["compared"]
    assert any(w.startswith("disagrees with an independent implementation on is_prime(")
               and "True vs False" in w for w in record["warnings"])


def test_with_the_budget_spent_the_module_is_stored_unconfirmed_without_a_repair(tmp_path,
                                                                                  library):
    llm = Scripted(generate=WRONG_IS_PRIME, independent=RIGHT_IS_PRIME)
    result = make_agent(tmp_path, library, llm, attempts=1).solve(IS_PRIME)
    assert llm.kinds() == ["generate", "independent"] and result.llm_calls == 2
    assert library.get("is_prime").verification["status"] == "unconfirmed"


def test_a_repair_that_breaks_the_tests_keeps_the_candidate_that_passed(tmp_path, library):
    llm = Scripted(generate=WRONG_IS_PRIME, independent=RIGHT_IS_PRIME,
                   counterexample="def is_prime(n):\n    return n == 4\n")
    result = make_agent(tmp_path, library, llm).solve(IS_PRIME)
    assert result.status == "solved" and result.llm_calls == 3
    asked = [d for node, d in [(s.node, s.detail) for s in result.trace]
             if node == "counterexample"]
    assert "kept the candidate that did" in asked[0]
    stored = library.get("is_prime")
    assert stored.source.strip() == WRONG_IS_PRIME.strip()
    assert stored.verification["status"] == "unconfirmed"


def test_an_independent_implementation_that_fails_the_tests_is_no_evidence(tmp_path, library):
    llm = Scripted(generate=RIGHT_IS_PRIME, independent="def is_prime(n):\n    return True\n")
    result = make_agent(tmp_path, library, llm).solve(IS_PRIME)
    assert result.llm_calls == 2 and llm.kinds() == ["generate", "independent"]
    ((decision, detail),) = lines(result, "cross_check")
    assert decision.startswith("no evidence") and "fails the task's tests" in detail
    record = library.get("is_prime").verification  # the rule for weak tests alone
    assert record["status"] == "unconfirmed" and "independent" not in record["checks"]


def test_a_correct_function_with_strong_tests_gets_no_extra_call(tmp_path, library):
    llm = Scripted(generate="def square(x):\n    return x * x\n")
    result = make_agent(tmp_path, library, llm).solve(SQUARE)
    assert (result.status, result.llm_calls) == ("solved", 1)
    assert llm.kinds() == ["generate"] and not lines(result, "cross_check")
    record = library.get("square").verification
    assert record["status"] == "confirmed" and record["checks"] == ["special-cases"]


def test_the_setting_turns_the_step_on_for_strong_tests_or_off_for_weak_ones(tmp_path,
                                                                             library):
    always = Scripted(generate="def square(x):\n    return x * x\n",
                      independent="def square(x):\n    return x ** 2\n")
    result = make_agent(tmp_path, library, always, cross_check="always").solve(SQUARE)
    assert always.kinds() == ["generate", "independent"] and result.llm_calls == 2
    assert lines(result, "cross_check")[0][0] == "agrees (confirmed)"
    never = Scripted(generate=WRONG_IS_PRIME)
    result = make_agent(tmp_path, library, never, cross_check="never").solve(IS_PRIME)
    assert never.kinds() == ["generate"] and result.llm_calls == 1
    bad = Scripted(generate=RIGHT_IS_PRIME)
    with pytest.raises(ConfigError, match="cross_check must be one of weak, always, never"):
        make_agent(tmp_path, library, bad, cross_check="sometimes").solve(IS_PRIME)
    assert bad.calls == []  # refused before any call


def test_reuse_never_asks_for_an_independent_implementation(tmp_path, library):
    llm = Scripted(generate=RIGHT_IS_PRIME, independent=RIGHT_IS_PRIME)
    agent = make_agent(tmp_path, library, llm)
    agent.solve(IS_PRIME)
    again = agent.solve(Task.from_asserts("Is n prime?", [t.source for t in IS_PRIME.tests]))
    assert (again.decision, again.llm_calls) == ("reused", 0)
    assert llm.kinds() == ["generate", "independent"]
