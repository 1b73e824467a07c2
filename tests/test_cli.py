"""The CLI through typer's runner, with the replay backend (recorded real completions)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import scenarios
from conftest import RECORDINGS
from typer.testing import CliRunner

from agentlib.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTLIB_LLM", "replay")
    monkeypatch.setenv("AGENTLIB_RECORDINGS", str(RECORDINGS / "agent.json"))
    monkeypatch.setenv("AGENTLIB_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("AGENTLIB_NO_PLUGINS", "1")  # results must not depend on installed plugins
    return tmp_path


def _solve_args(task):
    args = ["solve", task.prompt]
    for test in task.tests:
        args += ["--test", test.source]
    return args


def test_help_is_fast_and_does_not_import_heavy_libraries():
    code = ("import sys, time; t = time.time(); from agentlib.cli import app; "
            "print(time.time() - t); "
            "print(any(m in sys.modules for m in ('torch', 'chromadb', 'langgraph', 'xllamacpp')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    seconds, heavy = out.split()
    assert heavy == "False"
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "agentlib", "--help"], capture_output=True,
                          text=True)
    assert done.returncode == 0 and "solve" in done.stdout
    assert time.monotonic() - start < 5  # generous: the point is no 5 s model import


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("agentlib ")


def test_solve_created_then_reused_with_exit_codes(env):
    first = runner.invoke(app, _solve_args(scenarios.ADD))
    assert first.exit_code == 0, first.output
    assert "created" in first.stdout and "def add" in first.stdout
    second = runner.invoke(app, _solve_args(scenarios.ADD_REPHRASED) + ["--trace"])
    assert second.exit_code == 0
    assert "reused" in second.stdout and "0 LLM call" in second.stdout
    assert "try_reuse" in second.stdout  # the trace table
    listing = runner.invoke(app, ["lib", "list"])
    assert "add(a, b)" in listing.stdout
    shown = runner.invoke(app, ["lib", "show", "add", "--json"])
    assert json.loads(shown.stdout)["tests"] == [t.source for t in scenarios.ADD.tests]


def test_unsolved_task_exits_1_and_json_output(env):
    result = runner.invoke(app, _solve_args(scenarios.MISLEADING) + ["--json"])
    assert result.exit_code == 1
    record = json.loads(result.stdout)
    assert record["status"] == "failed" and record["attempts"] == 6  # the default


def test_attempts_setting_applies_unless_the_option_overrides_it(env, monkeypatch):
    monkeypatch.setenv("AGENTLIB_ATTEMPTS", "2")
    record = json.loads(runner.invoke(app, _solve_args(scenarios.MISLEADING) + ["--json"]).stdout)
    assert record["attempts"] == 2
    record = json.loads(runner.invoke(
        app, _solve_args(scenarios.MISLEADING) + ["--json", "--attempts", "1"]).stdout)
    assert record["attempts"] == 1


def test_bad_usage_exits_2(env):
    assert runner.invoke(app, ["solve", "no tests given", "--no-propose"]).exit_code == 2
    assert runner.invoke(app, ["solve", "--bogus"]).exit_code == 2


def test_agentlib_errors_are_one_line_on_stderr_exit_1(env, library):
    done = subprocess.run([sys.executable, "-m", "agentlib", "lib", "show", "nothing"],
                          capture_output=True, text=True,
                          env={**_clean_env(env), "AGENTLIB_STORE": str(env / "store")})
    assert done.returncode == 1
    assert "error:" in done.stderr and "no module named 'nothing'" in done.stderr
    assert "Traceback" not in done.stderr


def _clean_env(tmp_path):
    import os

    return {k: v for k, v in os.environ.items()} | {"AGENTLIB_HOME": str(tmp_path / "home")}


def _task_file(path, tasks, extra_lines=()):
    lines = [json.dumps({"id": t.id, "prompt": t.prompt, "tests": [x.source for x in t.tests]})
             for t in tasks]
    path.write_text("\n".join(list(lines) + list(extra_lines)) + "\n")
    return path


def test_batch_writes_one_result_per_task_and_reports_bad_lines(env):
    tasks = _task_file(env / "tasks.jsonl", [scenarios.ADD, scenarios.ADD_REPHRASED],
                       extra_lines=["{oops"])
    out = env / "results.jsonl"
    result = runner.invoke(app, ["solve", "--file", str(tasks), "--out", str(out)])
    assert result.exit_code == 1  # one task was malformed
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["status"] for r in records] == ["solved", "solved", "error"]
    assert [r["decision"] for r in records[:2]] == ["created", "reused"]
    assert "tasks.jsonl:3" in records[2]["error"]
    program = records[0]["program"]
    check = program + "\n" + "\n".join(t.source for t in scenarios.ADD.tests)
    assert subprocess.run([sys.executable, "-I", "-c", check]).returncode == 0
    for key in ("id", "status", "decision", "entry_point", "program", "module_id", "attempts",
                "llm_calls", "prompt_tokens", "completion_tokens", "wall_s", "error"):
        assert key in records[0]


def test_batch_refuses_to_clobber_and_resume_skips_done_tasks(env):
    tasks = _task_file(env / "tasks.jsonl", [scenarios.ADD, scenarios.PLUS_WRAPPER])
    out = env / "results.jsonl"
    # A previous run finished the first task and was killed while writing the second line.
    first = runner.invoke(app, ["solve", "--file", str(tasks), "--out", str(out)])
    assert first.exit_code == 0
    lines = out.read_text().splitlines()
    out.write_text(lines[0] + "\n" + lines[1][:20])
    refused = runner.invoke(app, ["solve", "--file", str(tasks), "--out", str(out)])
    assert refused.exit_code == 2 and "--resume" in refused.stderr  # bad usage
    resumed = runner.invoke(app, ["solve", "--file", str(tasks), "--out", str(out), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == ["add", "plus"]
