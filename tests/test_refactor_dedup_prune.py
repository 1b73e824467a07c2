"""Behavioural dedup (run side by side in the sandbox) and pruning that respects dependencies."""

from __future__ import annotations

import json

from record_refactor import make_module
from typer.testing import CliRunner

from agentlib.refactor.dedup import alias_source, behave_alike, dedup, generated_inputs
from agentlib.refactor.prune import prune, prune_threshold
from agentlib.sandbox import cases_from, run


def _add(library, name, source, tests, **fields):
    return library.add(make_module(name, source, tests, **fields))


def _callable(library, name, tests):
    module = library.get(name)
    return run(library.program_for(module), cases_from(tests)).passed


def test_generated_inputs_vary_one_argument_keeping_its_type():
    extra = generated_inputs([(5, "ab")])
    assert (0, "ab") in extra and (5, "") in extra and (5, "ba") in extra
    assert all(type(a) is int and type(b) is str for a, b in extra)


def test_alias_keeps_the_signature_and_calls_the_canonical_module():
    old = make_module("total", "def total(a, b=0, *rest, scale=1):\n    return (a + b) * scale\n",
                      [])
    assert alias_source(old, "add_numbers").splitlines()[::2] == [
        "def total(a, b=0, *rest, scale=1):", "    return add_numbers(a, b, *rest, scale=scale)"]


def test_dedup_merges_equal_modules_and_keeps_both_names(library):
    _add(library, "add_numbers", "def add_numbers(a, b):\n    \"\"\"Add two numbers.\"\"\"\n"
         "    return a + b\n", ["assert add_numbers(1, 2) == 3"], times_reused=2)
    _add(library, "sum_two", "def sum_two(x, y):\n    \"\"\"Return the sum of two numbers.\"\"\"\n"
         "    total = x\n    total += y\n    return total\n", ["assert sum_two(10, -4) == 6"])
    # agree on the stored inputs (a > b) but not on generated ones: must stay apart
    _add(library, "difference", "def difference(a, b):\n    \"\"\"Subtract b from a.\"\"\"\n"
         "    return a - b\n", ["assert difference(5, 3) == 2"])
    _add(library, "distance", "def distance(a, b):\n    \"\"\"How far apart two numbers are.\"\"\"\n"
         "    return a - b if a > b else b - a\n", ["assert distance(9, 4) == 5"])
    assert behave_alike(library, library.get("add_numbers"), library.get("sum_two")) > 2
    merges = dedup(library)
    assert [(m.canonical, m.aliases, m.committed) for m in merges] == [
        ("add_numbers", ["sum_two"], True)]
    assert merges[0].inputs_compared > 2  # stored inputs plus generated ones
    alias = library.get("sum_two")
    assert alias.version == 2 and alias.dependencies == ["add_numbers"]
    assert alias.source.splitlines()[0] == "def sum_two(x, y):"
    assert alias.tests == ["assert sum_two(10, -4) == 6"]
    assert _callable(library, "sum_two", ["assert sum_two(10, -4) == 6", "assert sum_two(2, 3) == 5"])
    assert _callable(library, "add_numbers", ["assert add_numbers(1, 2) == 3"])
    assert [m.status for m in library.history("sum_two")] == ["superseded", "active"]
    assert library.get("difference").version == library.get("distance").version == 1
    # difference(9, 4) == distance(9, 4) and difference(5, 3) == distance(5, 3): only the
    # generated inputs (e.g. difference(0, 3)) tell them apart
    assert behave_alike(library, library.get("difference"), library.get("distance")) == 0


def _stream(library, names, start=1000.0, **fields):
    for i, name in enumerate(names):
        _add(library, name, f"def {name}(x):\n    return x + {i}\n", [f"assert {name}(0) == {i}"],
             created_at=start + i, **fields)


def test_prune_never_removes_a_module_others_depend_on(library):
    _add(library, "base", "def base(x):\n    return x * 2\n", ["assert base(2) == 4"],
         created_at=1.0)
    _add(library, "user", "def user(x):\n    return base(x) + 1\n", ["assert user(2) == 5"],
         created_at=2.0)
    _add(library, "lonely", "def lonely(x):\n    return -x\n", ["assert lonely(2) == -2"],
         created_at=3.0)
    _add(library, "lonely", "def lonely(x):\n    return 0 - x\n", ["assert lonely(2) == -2"],
         created_at=3.5)
    _add(library, "popular", "def popular(x):\n    return x\n", ["assert popular(2) == 2"],
         created_at=4.0, times_reused=3)
    _stream(library, [f"task{i}" for i in range(12)], start=10.0)  # later tasks
    records = library.list(status=None)
    assert prune_threshold(records) == 8  # 16 tasks (lonely's two versions: one task)
    before_dry = [(m.id, m.status) for m in library.list(status=None)]
    assert {d.name for d in prune(library, dry_run=True) if d.pruned} == {
        "user", "lonely", "task0", "task1", "task2", "task3"}
    assert [(m.id, m.status) for m in library.list(status=None)] == before_dry
    decisions = {(d.name, d.status): d for d in prune(library)}
    assert not decisions[("base", "active")].pruned
    assert decisions[("base", "active")].reason == "kept: needed by user"
    assert decisions[("user", "active")].pruned  # nothing needs user, never reused
    assert decisions[("lonely", "superseded")].pruned and decisions[("lonely", "active")].pruned
    assert not decisions[("popular", "active")].pruned
    assert decisions[("task3", "active")].pruned  # 8 tasks since
    assert not decisions[("task4", "active")].pruned  # only 7 tasks since
    assert library.get("base") is not None and library.get("user") is None
    # recoverable: nothing deleted
    assert [m.status for m in library.history("lonely")] == ["pruned", "pruned"]
    assert len(library.list(status=None)) == len(before_dry)


def test_cli_prune_and_dedup_dry_run(library, tmp_path):
    from agentlib.cli import app

    _stream(library, [f"task{i}" for i in range(8)])
    store = str(tmp_path / "store")
    result = CliRunner().invoke(app, ["refactor", "prune", "--dry-run", "--json",
                                      "--library", store])
    assert result.exit_code == 0, result.output
    assert [d["name"] for d in json.loads(result.output) if d["pruned"]] == ["task0", "task1",
                                                                            "task2"]
    assert all(m.status == "active" for m in library.list(status=None))
    result = CliRunner().invoke(app, ["refactor", "dedup", "--dry-run", "--library", store])
    assert result.exit_code == 0, result.output
    assert "0 group(s)" in result.output


class _NoLLM:
    """The task below must be answered by a pruned module; a model call fails the test."""

    name = "none"

    def complete(self, messages, **options):
        raise AssertionError("a pruned module that passes the tests should be revived")


def test_a_pruned_module_that_solves_a_new_task_is_revived_not_shown(tmp_path, library,
                                                                     builtin_pm):
    from agentlib.agent import Agent
    from agentlib.config import Settings
    from agentlib.model import Task

    _add(library, "is_leap_year", "def is_leap_year(y):\n    return y % 4 == 0 and "
         "(y % 100 != 0 or y % 400 == 0)\n", ["assert is_leap_year(2000) == True"])
    _add(library, "word_count", "def word_count(text):\n    return len(text.split())\n",
         ["assert word_count('a b') == 2"])
    library.remove("is_leap_year")  # what prune does to a module never reused
    assert library.get("is_leap_year") is None
    agent = Agent(Settings(store=library.location, use_insights=False), llm=_NoLLM(),
                  library=library, pm=builtin_pm)
    task = Task.from_asserts("Tell whether a year has 366 days.",
                             ["assert has_366_days(1996) == True",
                              "assert has_366_days(1900) == False"], id="leap")
    result = agent.solve(task)
    assert result.status == "solved" and result.decision == "reused"
    assert result.llm_calls == 0
    found = next(s for s in result.trace if s.node == "retrieve")
    assert found.detail.startswith("word_count (") and found.detail.endswith(
        "archived: is_leap_year")  # tried for reuse, not among the modules shown
    step = next(s for s in result.trace if s.node == "try_reuse")
    assert step.detail.startswith("revived from the pruned modules and reused")
    revived = library.get("is_leap_year")
    assert revived is not None and revived.times_reused == 1
    # the program answers under the task's name through a wrapper around the revived module
    assert "def has_366_days" in result.program and "return is_leap_year(" in result.program


def test_an_old_version_of_an_active_module_is_never_revived(library):
    import pytest

    from agentlib.errors import StoreError

    _add(library, "double", "def double(x):\n    return x + x\n", ["assert double(2) == 4"])
    old = library.get("double")
    _add(library, "double", "def double(x):\n    return 2 * x\n", ["assert double(2) == 4"])
    with pytest.raises(StoreError, match="has an active version"):
        library.revive(old)
