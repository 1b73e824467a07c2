"""The agent graph driven by recorded real completions (replay backend), with the real
sandbox and a real Chroma library in tmp_path. Scenarios: tests/scenarios.py;
re-record with tests/record_completions.py."""

from __future__ import annotations

import subprocess
import sys

import pytest
import scenarios
from conftest import RECORDINGS
from langgraph.checkpoint.memory import InMemorySaver

from agentlib.agent import Agent
from agentlib.agent.context import SolveContext
from agentlib.agent.graph import build_graph
from agentlib.config import Settings
from agentlib.errors import LLMError, TaskFormatError
from agentlib.llm.replay import ReplayLLM
from agentlib.model import Task
from agentlib.runtime import Runtime


@pytest.fixture
def replay():
    return ReplayLLM(RECORDINGS / "agent.json")


@pytest.fixture
def agent(tmp_path, library, replay, builtin_pm):
    return Agent(Settings(store=str(tmp_path / "store"), llm="replay"), llm=replay,
                 library=library, pm=builtin_pm)


def _nodes(result):
    return [step.node for step in result.trace]


def test_create_then_reuse_without_llm(agent, library):
    first = agent.solve(scenarios.ADD)
    assert (first.status, first.decision, first.llm_calls) == ("solved", "created", 1)
    assert _nodes(first) == ["retrieve", "try_reuse", "generate", "validate", "store"]
    assert library.get("add") is not None
    again = agent.solve(scenarios.ADD_REPHRASED)
    assert (again.status, again.decision, again.llm_calls) == ("solved", "reused", 0)
    assert _nodes(again) == ["retrieve", "try_reuse"]
    assert library.get("add").times_reused == 1


def test_reuse_under_another_name_is_a_wrapper(agent, library):
    agent.solve(scenarios.ADD)
    result = agent.solve(scenarios.PLUS_WRAPPER)
    assert (result.decision, result.llm_calls) == ("reused", 0)
    assert "def plus(" in result.program and "def add(" in result.program
    _runs_standalone(result.program, scenarios.PLUS_WRAPPER)


def test_failed_candidates_are_repaired_with_the_failing_cases(agent, library, replay):
    result = agent.solve(scenarios.MISLEADING)
    assert result.attempts == 6 and result.llm_calls == 7  # 6 attempts (default) + 1 reflection
    assert _nodes(result).count("repair") == 5
    assert result.status == "failed" and result.decision == "failed"
    assert "combine" in result.error
    assert library.get("combine") is None  # nothing unverified is stored


def test_repair_prompt_shows_inputs_and_results(tmp_path, library, replay, builtin_pm):
    seen = []

    class Spy:
        name = "spy"

        def complete(self, messages, **options):
            seen.append(messages)
            return replay.complete(messages, **options)

    agent = Agent(Settings(store=str(tmp_path / "s"), llm="replay"), llm=Spy(), library=library,
                  pm=builtin_pm)
    agent.solve(scenarios.MISLEADING)
    repair_prompt = seen[1][-1]["content"]
    assert "assert combine(2, 3) == 6" in repair_prompt
    assert "returned" in repair_prompt and "Failures" in repair_prompt


def test_an_answer_written_with_library_modules_in_view_is_retried_without_the_library(
        tmp_path, library, builtin_pm):
    # A scripted model (this test is about the prompts, not the model's answers) that always
    # writes the same wrong function; the reflection reply it gets is discarded as malformed.
    seen = []

    class Wrong:
        name = "scripted"

        def complete(self, messages, **options):
            from agentlib.llm import Completion

            seen.append((messages, options))
            return Completion("```python\ndef count_primes(n):\n    return n\n```")

    library.add(scenarios.is_prime_module())
    agent = Agent(Settings(store=str(tmp_path / "s"), llm="replay"), llm=Wrong(),
                  library=library, pm=builtin_pm)
    result = agent.solve(scenarios.COUNT_PRIMES)
    assert result.status == "failed" and result.attempts == 6
    (first, _), (plain, plain_options), (restart, restart_options) = seen[:3]
    assert "is_prime(n)" in first[-1]["content"] and "These verified functions" in first[-1]["content"]
    # Second attempt: the task exactly as without a library, greedy, no earlier conversation.
    assert len(plain) == 2 and plain[-1]["content"] == (
        "Task: " + scenarios.COUNT_PRIMES.prompt + "\n\nWrite a Python function named "
        "`count_primes`. It must pass these tests:\n"
        + "\n".join(t.source for t in scenarios.COUNT_PRIMES.tests) + "\n")
    assert "temperature" not in plain_options
    # Third: a sampled fresh start from the task and the failing cases, still no library.
    assert len(restart) == 2 and "temperature" in restart_options
    assert "These verified functions" not in restart[-1]["content"]
    assert "from scratch" in restart[-1]["content"] and "count_primes(10)" in restart[-1]["content"]


def test_a_plain_retry_that_passes_is_not_reflected_on(tmp_path, library, builtin_pm):
    # A scripted model (the test is about the route): wrong with the library in view, right
    # on the plain retry. No lesson call follows: the failure came from what was shown.
    replies = iter(["```python\ndef count_primes(n):\n    return sum(map(is_prime, range(n))) + 1\n```",
                    "```python\ndef count_primes(n):\n    return sum(all(k % d for d in "
                    "range(2, k)) for k in range(2, n))\n```"])

    class Scripted:
        name = "scripted"

        def complete(self, messages, **options):
            from agentlib.llm import Completion

            return Completion(next(replies))

    library.add(scenarios.is_prime_module())
    agent = Agent(Settings(store=str(tmp_path / "s"), llm="replay"), llm=Scripted(),
                  library=library, pm=builtin_pm)
    result = agent.solve(scenarios.COUNT_PRIMES)
    assert result.decision == "repaired" and result.attempts == 2 and result.llm_calls == 2
    assert "reflect" not in _nodes(result)
    assert library.get("count_primes").dependencies == []


def test_composition_calls_library_module(agent, library):
    library.add(scenarios.is_prime_module())
    result = agent.solve(scenarios.COUNT_PRIMES)
    assert result.status == "solved"
    stored = library.get("count_primes")
    assert stored.dependencies == ["is_prime"]
    assert "def is_prime" not in stored.source  # it calls the library, not a copy
    assert library.program_for(stored).index("def is_prime") < library.program_for(
        stored).index("def count_primes")
    _runs_standalone(result.program, scenarios.COUNT_PRIMES)


def test_no_library_never_retrieves_or_stores(tmp_path, replay, builtin_pm):
    settings = Settings(store=str(tmp_path / "s"), llm="replay")
    settings.use_library = False
    agent = Agent(settings, llm=replay, pm=builtin_pm)
    result = agent.solve(scenarios.ADD)
    assert result.decision == "created"
    assert result.trace[0].decision == "skipped"
    assert not (tmp_path / "s").exists()


def test_missing_recording_is_a_clear_error(agent):
    task = Task.from_asserts("Something never recorded.", ["assert zzz(1) == 2"])
    with pytest.raises(LLMError, match="no recorded completion"):
        agent.solve(task)


def test_task_without_entry_point_is_refused(agent):
    with pytest.raises(TaskFormatError, match="entry_point"):
        agent.solve(Task.from_asserts("x", ["assert True"]))


def test_graph_compiles_with_a_checkpointer_and_resumes_state(tmp_path, library, replay,
                                                             builtin_pm):
    graph = build_graph().compile(checkpointer=InMemorySaver())
    context = SolveContext(Runtime(Settings(store=str(tmp_path)), library=library, llm=replay,
                                   pm=builtin_pm))
    config = {"configurable": {"thread_id": "t1"}}
    state = graph.invoke({"task": scenarios.ADD, "entry_point": "add", "max_attempts": 2,
                          "attempts": [], "trace": [], "llm_calls": 0, "prompt_tokens": 0,
                          "completion_tokens": 0}, context=context, config=config)
    assert state["solved"] and state["stored"].name == "add"
    snapshot = graph.get_state(config)
    assert snapshot.values["solved"] and snapshot.next == ()


def _runs_standalone(program: str, task: Task) -> None:
    script = program + "\n" + "\n".join(t.source for t in task.tests) + "\n"
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True,
                          timeout=60, text=True)
    assert done.returncode == 0, done.stderr


def test_candidate_that_special_cases_the_tests_is_rejected_and_repaired(tmp_path, library,
                                                                        builtin_pm):
    """The LLM here is a scripted fake (the test is about the validate step's static check):
    first a lookup of the literal test inputs, then a real implementation."""
    replies = iter([
        "```python\ndef add(a, b):\n    if a == 2 and b == 3:\n        return 5\n"
        "    if a == -1 and b == 1:\n        return 0\n    return None\n```",
        "```python\ndef add(a, b):\n    return a + b\n```",
        "TAXONOMY: testing/overfitting\nCONDITION: When only a few examples are given.\n"
        "EXPLANATION: Implement the general rule the examples illustrate, never a lookup.",
    ])
    seen = []

    class Scripted:
        name = "scripted"

        def complete(self, messages, **options):
            from agentlib.llm import Completion

            seen.append(messages[-1]["content"])
            return Completion(text=next(replies))

    agent = Agent(Settings(store=str(tmp_path / "s"), llm="scripted"), llm=Scripted(),
                  library=library, pm=builtin_pm)
    result = agent.solve(scenarios.ADD)
    assert result.status == "solved" and result.decision == "repaired"
    assert [s.decision for s in result.trace if s.node == "validate"] == ["rejected", "passed"]
    assert "special-cases the test inputs" in seen[1]
    assert "return a + b" in library.get("add").source


def test_own_copy_of_a_library_name_is_the_fallback_when_the_library_version_differs(
        tmp_path, library, builtin_pm):
    """A scripted LLM (the test is about validate's fallback): the reply defines its own
    `is_prime` that means something else than the library's; the library version fails the
    task's tests, the model's own copy passes and is what gets stored."""
    library.add(scenarios.is_prime_module())
    reply = ("```python\ndef is_prime(n):\n    return n % 2 == 1\n\n"
             "def count_primes(n):\n    return sum(1 for i in range(n) if is_prime(i))\n```")

    class Scripted:
        name = "scripted"

        def complete(self, messages, **options):
            from agentlib.llm import Completion

            return Completion(text=reply)

    task = Task.from_asserts("Count the primes below n using is_prime.",
                             ["assert count_primes(10) == 5", "assert count_primes(3) == 1"])
    agent = Agent(Settings(store=str(tmp_path / "s"), llm="scripted"), llm=Scripted(),
                  library=library, pm=builtin_pm)
    result = agent.solve(task)
    assert (result.status, result.decision, result.llm_calls) == ("solved", "created", 1)
    stored = library.get("count_primes")
    assert stored.dependencies == [] and "n % 2 == 1" in stored.source
    assert library.get("is_prime").source == scenarios.IS_PRIME_SOURCE  # untouched


def _module(name: str, prompt: str, tests: list[str], source: str = "", doc: str = ""):
    from agentlib.model import Module

    return Module(id=name, name=name, source=source or f"def {name}(n):\n    return n\n",
                  signature=f"{name}(n)", docstring=doc, tests=tests, task_prompt=prompt)


def test_a_shown_module_reads_as_its_whole_description_and_an_example_call():
    from agentlib.agent.nodes import module_line

    words = ("Write a function word_counts(text) that returns a dict mapping each lowercase "
             "word to how many times it occurs; words are separated by whitespace.")
    line = module_line(_module("word_counts", words, [
        "assert word_counts('') == {}  ", "assert word_counts('a b a') == {'a': 2, 'b': 1}"]))
    # The request wording and the repeated signature go; the description stays whole (a cut
    # at 100 characters hid what the function returns); the first `name(...) == value` test
    # is the example.
    assert line == ("word_counts(n): returns a dict mapping each lowercase word to how many "
                    "times it occurs; words are separated by whitespace. "
                    "Example: word_counts('') == {}")


def test_a_shown_module_prefers_its_docstring_and_skips_tests_that_show_no_value():
    from agentlib.agent.nodes import module_line

    module = _module("is_prime", "Check whether a number is prime.",
                     ["assert is_prime(7)", "assert not is_prime(9)", "assert other(1) == 2"],
                     doc="True when n is prime.\nMore text.")
    assert module_line(module) == "is_prime(n): True when n is prime."
    module.docstring = ""
    assert module_line(module) == "is_prime(n): Check whether a number is prime."


def test_a_long_description_is_cut_at_a_word_boundary():
    from agentlib.agent.nodes import module_line

    prompt = "Compute " + " ".join(f"word{i}" for i in range(80)) + "."
    line = module_line(_module("f", prompt, []))
    described = line.removeprefix("f(n): ")
    assert len(described) <= 202 and described.endswith(" …")
    assert described.removesuffix(" …").split()[-1] in prompt.split()


@pytest.mark.parametrize("budget, shown", [(0, False), (20, False), (600, True)])
def test_the_nearest_module_s_code_is_shown_within_the_budget(tmp_path, library, builtin_pm,
                                                              budget, shown):
    # A scripted model (the test is about the prompt, not the answer) that writes the
    # composition at once.
    seen = []

    class Scripted:
        name = "scripted"

        def complete(self, messages, **options):
            from agentlib.llm import Completion

            seen.append(messages)
            return Completion("```python\ndef count_primes(n):\n"
                              "    return sum(is_prime(k) for k in range(n))\n```")

    library.add(scenarios.is_prime_module())
    settings = Settings(store=str(tmp_path / "s"), llm="replay")
    settings.module_code_chars = budget
    agent = Agent(settings, llm=Scripted(), library=library, pm=builtin_pm)
    result = agent.solve(scenarios.COUNT_PRIMES)
    assert result.status == "solved"
    generate = next(step for step in result.trace if step.node == "generate")
    assert generate.detail.startswith("shown: is_prime")
    assert ("with the code of is_prime" in generate.detail) is shown
    prompt = seen[0][-1]["content"]
    assert "is_prime(n): " in prompt
    assert ("The code of `is_prime`" in prompt) is shown
    assert (scenarios.IS_PRIME_SOURCE.strip() in prompt) is shown
