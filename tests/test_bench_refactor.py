"""The refactor benchmark's steps: maintenance measured step by step (recorded real proposal,
tests/record_refactor.py) and later tasks re-run on both libraries, which stay unchanged."""

from __future__ import annotations

import shutil

from record_refactor import RECORDING, build_date_library

from agentlib.bench.refactor import maintain, rerun
from agentlib.config import Settings
from agentlib.llm.replay import ReplayLLM
from agentlib.model import Task


class NoLLM:
    """Reuse must answer these tasks; a call to the model fails the test."""

    name = "none"

    def complete(self, messages, **options):
        raise AssertionError("the later tasks should be reused without the model")


def test_maintenance_is_measured_after_each_step(library):
    build_date_library(library)
    figures = maintain(library, ReplayLLM(RECORDING), budget=2, pruned_copy=lambda: library)
    steps = figures["steps"]
    assert list(steps) == ["before", "refactor", "dedup", "prune"]
    assert steps["refactor"]["lines"] < steps["before"]["lines"]
    assert steps["before"]["modules_calling_helper"] == 0
    assert steps["refactor"]["modules_calling_helper"] == 3
    assert steps["refactor"]["modules"] == steps["before"]["modules"] + 1  # the helper
    for step in steps.values():
        assert step["tests_run"] > 0 and step["tests_passed"] == step["tests_run"]
        assert step["modules_failing"] == []
    assert figures["refactor"]["helpers_created"] == ["parse_date"]
    # prune takes the three superseded versions; no active module is old enough to go
    assert sorted((d["name"], d["status"]) for d in figures["pruned"]) == [
        (name, "superseded") for name in ("quarter_of", "us_format", "year_of")]
    assert steps["prune"]["modules"] == steps["dedup"]["modules"]


def test_later_tasks_run_on_copies_of_both_libraries(library, tmp_path):
    build_date_library(library)
    maintained = tmp_path / "maintained"
    shutil.copytree(library.location, maintained)
    task = Task.from_asserts("Give the quarter of an ISO date.",
                             ["assert quarter_of('2024-08-01') == 3"], id="later-1")
    settings = Settings(store="unused", use_insights=False)
    figures = rerun({"unmaintained": library.location, "maintained": maintained}, [task],
                    NoLLM(), settings, tmp_path)
    for label in ("unmaintained", "maintained"):
        assert figures[label] == {"tasks": 1, "solved": 1, "reused": 1, "llm_calls": 0}
    assert library.get("quarter_of").times_reused == 0  # the re-runs used copies


def test_cli_refuses_a_split_that_leaves_nothing_to_grow(tmp_path):
    from typer.testing import CliRunner

    from agentlib.cli import app

    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(
        f'{{"id": "t{i}", "prompt": "Return {i}.", "tests": ["assert f() == {i}"]}}\n'
        for i in range(3)))
    result = CliRunner().invoke(app, ["bench", "refactor", str(tasks), "--later", "3"])
    assert result.exit_code == 2
    assert "has 3 task(s); --later must leave some to grow the library" in result.output
