"""The quick sanity check of a task's tests (agentlib.agent.sanity): pure syntax, no LLM."""

from __future__ import annotations

from pathlib import Path

import pytest
import scenarios

from agentlib.agent.sanity import check_tests
from agentlib.agent.taskfile import read_tasks
from agentlib.errors import TaskFormatError
from agentlib.model import Task
from agentlib.model import TestCase as Case

ROOT = Path(__file__).resolve().parents[1]


def _tests(*sources: str, setup: str = "") -> list[Case]:
    return [Case(s, setup) for s in sources]


@pytest.mark.parametrize("sources, needle", [
    (("assert sq(2) == 4", "assert sq(2) == 5"), "sq(2)"),
    (("assert 4 == sq(2)", "assert sq(2) == 5"), "sq(2)"),
    (("assert f('a', n=2) == ['a', 'a']", "assert f('a', n=2) == ['a']"), "f('a', n=2)"),
    (("assert f((1, 2)) == {1: 2}", "assert f((1, 2)) == {}"), "f((1, 2))"),
])
def test_contradicting_tests_are_refused_naming_both(sources, needle):
    with pytest.raises(TaskFormatError, match="expect different values") as caught:
        check_tests(_tests(*sources), "task t")
    message = str(caught.value)
    assert needle in message and all(source in message for source in sources)
    assert message.startswith("task t: ")


@pytest.mark.parametrize("source", ["assert 1 == 1", "assert True", "assert sq == 4",
                                    "assert len([1, 2]) == 2"])
def test_a_test_that_calls_no_function_is_refused(source):
    with pytest.raises(TaskFormatError, match="calls no function"):
        check_tests(_tests("assert sq(2) == 4", source))


@pytest.mark.parametrize("sources", [
    ("assert sq(2) == 4", "assert sq(3) == 9"),  # different calls
    ("assert f(1) == 1", "assert f(1) == 1.0"),  # equal values
    ("assert next_id() == 1", "assert next_id() == 2"),  # no arguments: may be stateful
    ("assert f(x) == 1", "assert f(x) == 2"),  # not literal arguments
    ("assert f(1) == g(1)", "assert f(1) == 3"),  # not a literal expectation
    ("assert max([1, 2]) == 2",),  # the task's own `max` (its entry point)
])
def test_consistent_tests_pass(sources):
    check_tests(_tests(*sources), entry_point="max")


def test_the_same_call_under_different_setups_may_differ():
    check_tests(_tests("assert f(1) == 1", setup="K = 1")
                + _tests("assert f(1) == 2", setup="K = 2"))


def test_no_known_good_task_is_refused():
    """Measured on tasks whose tests some function passes: MBPP records and the bundled
    benchmark streams (nothing may be refused), and the agent scenarios."""
    files = sorted((ROOT / "tests" / "data").rglob("*.jsonl")) + sorted(
        (ROOT / "agentlib" / "bench" / "data").rglob("*.jsonl"))
    checked = 0
    for path in files:
        for line in read_tasks(path):
            if line.task is not None:
                check_tests(line.task.tests + line.task.hidden_tests, line.id,
                            line.task.entry_point)
                checked += 1
    tasks = [t for t in vars(scenarios).values() if isinstance(t, Task)]
    for task in tasks:
        check_tests(task.tests, task.id)
    assert checked >= 100 and len(tasks) >= 5
