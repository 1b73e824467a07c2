"""`agentlib solve "text with examples"` (or with none: the model proposes tests), `agentlib
lib confirm` and `agentlib bench tasks` on the examples set, through the real CLI with the
replay backend (completions recorded from the real small model by tests/record_examples.py).
The sandbox, the store and the embedder are real."""

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
NO_EXAMPLES_TASK = "Return the largest of three numbers: `max_of_three(a, b, c)`."
EDITED_TEST = "assert max_of_three(7, 9, 8) == 9"
"""The test the REPL's user adds to the proposed ones (tests/test_repl_tmux.py)."""
DATA = Path(__file__).resolve().parents[1] / "agentlib" / "bench" / "data" / "examples"
DEV_SET = DATA / "with-examples.jsonl"
NO_EXAMPLES_SET = DATA / "no-examples.jsonl"
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


def test_batch_results_carry_the_derive_and_propose_steps(env, tmp_path):
    tasks, out = tmp_path / "tasks.jsonl", tmp_path / "results.jsonl"
    tasks.write_text(json.dumps({"id": "words", "prompt": WORDS_TASK}) + "\n"
                     + json.dumps({"id": "none", "prompt": NO_EXAMPLES_TASK}) + "\n")
    result = runner.invoke(app, ["solve", "--file", str(tasks), "--out", str(out),
                                 "--no-library"])
    assert result.exit_code == 0, result.output
    records = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["words"]["trace"][0]["node"] == "derive"
    assert records["none"]["trace"][0]["node"] == "propose"
    assert records["none"]["status"] == "solved" and records["none"]["warnings"]


def test_given_tests_are_not_reported_as_derived(env):
    given = ['assert vowel_count("Rain") == 2', 'assert vowel_count("sky") == 0',
             'assert vowel_count("AEIOU") == 5']  # the same prompt: the same recording
    result = runner.invoke(app, ["solve", WORDS_TASK, "--json"]
                           + [arg for test in given for arg in ("--test", test)])
    assert result.exit_code == 0, result.output
    assert "derived from the text" not in result.stderr
    assert all(step["node"] != "derive" for step in json.loads(result.stdout)["trace"])


def test_no_propose_refuses_a_task_with_neither_tests_nor_examples_saying_why(env):
    result = runner.invoke(app, ["solve", "Sum the numbers of a list; sum_list(xs) returns "
                                          "the sum.", "--no-propose"])
    assert result.exit_code == 2
    said = " ".join(result.stderr.replace("│", " ").split())  # the error box wraps
    assert "no example could be read" in said
    assert "--no-propose keeps the model from proposing tests" in said


def test_a_task_without_examples_is_solved_end_to_end_stored_unconfirmed_then_confirmed(env):
    result = runner.invoke(app, ["solve", NO_EXAMPLES_TASK, "--trace"])
    assert result.exit_code == 0, result.output
    assert "the model proposes some" in result.stderr
    assert "def max_of_three" in result.stdout and "created" in result.stdout
    for node in ("propose", "sample", "select", "validate", "store"):
        assert node in result.stdout  # the trace
    assert "warning:" in result.stdout and "proposed by the model" in result.stdout
    assert "agentlib lib confirm max_of_three" in result.stdout

    assert "max_of_three (unconfirmed)" in runner.invoke(app, ["lib", "list"]).stdout
    shown = json.loads(runner.invoke(app, ["lib", "show", "max_of_three", "--json"]).stdout)
    assert shown["verification"]["status"] == "unconfirmed"
    assert shown["verification"]["proposed"] == shown["tests"] and shown["tests"]

    failing = runner.invoke(app, ["lib", "confirm", "max_of_three", "--test",
                                  "assert max_of_three(1, 2, 3) == 1"])
    assert failing.exit_code == 1 and "not confirmed" in failing.stderr
    assert json.loads(runner.invoke(app, ["lib", "show", "max_of_three", "--json"]).stdout)[
        "verification"]["status"] == "unconfirmed"  # a failing test changes nothing
    done = runner.invoke(app, ["lib", "confirm", "max_of_three", "--test",
                               "assert max_of_three(4, 9, 2) == 9"])
    assert done.exit_code == 0, done.output
    assert "confirmed max_of_three v1 with 1 more test(s)" in done.stdout
    shown = json.loads(runner.invoke(app, ["lib", "show", "max_of_three", "--json"]).stdout)
    assert shown["verification"]["status"] == "confirmed"
    assert "confirmed by hand" in shown["verification"]["checks"]
    assert "(unconfirmed)" not in runner.invoke(app, ["lib", "list"]).stdout
    assert "assert max_of_three(4, 9, 2) == 9" in shown["tests"]
    again = runner.invoke(app, ["lib", "confirm", "max_of_three"])
    assert again.exit_code == 0 and "already confirmed" in again.stdout


def test_the_json_result_traces_the_proposal_first(env):
    result = runner.invoke(app, ["solve", NO_EXAMPLES_TASK, "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    first = record["trace"][0]
    assert first["node"] == "propose" and first["decision"].endswith("test(s) proposed")
    assert "assert max_of_three(" in first["detail"]
    assert record["llm_calls"] >= 4  # the proposal and three samples
    assert any("proposed by the model" in w for w in record["warnings"])


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


def test_bench_tasks_runs_on_the_set_without_examples_agent_proposing_raw_untested(env,
                                                                                  tmp_path):
    report = tmp_path / "report"
    result = runner.invoke(app, ["bench", "tasks", str(NO_EXAMPLES_SET), "--configs",
                                 "agent,raw", "--limit", str(BENCH_LIMIT), "--llm", "replay",
                                 "--report", str(report)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (report / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * BENCH_LIMIT and all(row["hidden"] is not None for row in rows)
    raw = [row for row in rows if row["config"] == "raw"]
    assert all(row["status"] == "untested" and row["llm_calls"] == 1 for row in raw)
    agent = [row for row in rows if row["config"] == "agent"]
    assert all(row["status"] != "error" and row["llm_calls"] >= 4 for row in agent)


def test_the_repl_without_a_terminal_solves_with_the_derived_tests_as_they_are(tmp_path):
    """Piped input: nobody to ask, so derived tests are used as read and nothing is proposed."""
    import subprocess

    from test_repl import AGENTLIB, repl_env

    lines = [WORDS_TASK, "", NO_EXAMPLES_TASK, "", "/quit"]
    done = subprocess.run([AGENTLIB, "repl"], input="\n".join(lines) + "\n", text=True,
                          capture_output=True, timeout=300, env=repl_env(
                              tmp_path, AGENTLIB_NO_PLUGINS="1",
                              AGENTLIB_RECORDINGS=str(RECORDINGS / "examples.json")))
    assert done.returncode == 0, done.stderr
    assert "3 test(s) derived from the text:" in done.stdout
    assert 'assert vowel_count("Rain") == 2    (derived)' in done.stdout
    assert "stored as vowel_count v1" in done.stdout
    assert "no tests yet: add them with /test" in done.stdout  # the second: not proposed
