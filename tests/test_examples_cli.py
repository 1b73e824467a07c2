"""`agentlib solve "text with examples"` and `agentlib bench tasks` on the examples set, through
the real CLI with the replay backend (completions recorded from the real small model by
tests/record_examples.py). The sandbox, the store and the embedder are real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import RECORDINGS
from typer.testing import CliRunner

from agentlib.cli import app

runner = CliRunner()

WORDS_TASK = ('Count the vowels (a, e, i, o, u, in either case) in a string. Examples: '
              '`vowel_count("Rain") => 2`, `vowel_count("sky") => 0`; '
              'vowel_count("AEIOU") returns 5.')
DEV_SET = (Path(__file__).resolve().parents[1] / "agentlib" / "bench" / "data" / "examples"
           / "with-examples.jsonl")
BENCH_LIMIT = 2


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTLIB_LLM", "replay")
    monkeypatch.setenv("AGENTLIB_RECORDINGS", str(RECORDINGS / "examples.json"))
    monkeypatch.setenv("AGENTLIB_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("AGENTLIB_NO_PLUGINS", "1")  # as when recorded
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def test_solve_derives_tests_from_the_text_prints_them_and_solves(env):
    result = runner.invoke(app, ["solve", WORDS_TASK, "--trace"])
    assert result.exit_code == 0, result.output
    derived = ['assert vowel_count("Rain") == 2', 'assert vowel_count("sky") == 0',
               'assert vowel_count("AEIOU") == 5']
    assert "3 test(s) derived from the text:" in result.stderr
    assert all(test in result.stderr for test in derived)
    assert "def vowel_count" in result.stdout and "created" in result.stdout
    assert "derive" in result.stdout and "3 test(s) from the text" in result.stdout  # trace
    assert all(test in result.stdout for test in derived)  # the verdict table ran them


def test_solve_json_result_records_the_derived_tests(env):
    result = runner.invoke(app, ["solve", WORDS_TASK, "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["trace"][0]["node"] == "derive"
    assert 'assert vowel_count("sky") == 0' in record["trace"][0]["detail"]


def test_given_tests_are_not_reported_as_derived(env):
    given = ['assert vowel_count("Rain") == 2', 'assert vowel_count("sky") == 0',
             'assert vowel_count("AEIOU") == 5']  # the same prompt: the same recording
    result = runner.invoke(app, ["solve", WORDS_TASK, "--json"]
                           + [arg for test in given for arg in ("--test", test)])
    assert result.exit_code == 0, result.output
    assert "derived from the text" not in result.stderr
    assert all(step["node"] != "derive" for step in json.loads(result.stdout)["trace"])


def test_a_task_with_neither_tests_nor_examples_is_refused_saying_why(env):
    result = runner.invoke(app, ["solve", "Sum the numbers of a list; sum_list(xs) returns "
                                          "the sum."])
    assert result.exit_code == 2
    assert "no example could be read" in result.stderr
    assert "proposing tests with the model is not available yet" in result.stderr


def test_bench_tasks_runs_on_the_examples_set_with_agent_and_raw(env, tmp_path):
    report = tmp_path / "report"
    result = runner.invoke(app, ["bench", "tasks", str(DEV_SET), "--configs", "agent,raw",
                                 "--limit", str(BENCH_LIMIT), "--llm", "replay",
                                 "--report", str(report)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (report / "results.jsonl").read_text().splitlines()]
    assert sorted({row["config"] for row in rows}) == ["agent", "raw"]
    assert len(rows) == 2 * BENCH_LIMIT
    assert all(row["hidden"] is not None for row in rows)  # every task has hidden tests
    assert "hidden solved" in (report / "report.md").read_text()
