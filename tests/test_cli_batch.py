"""Batch runs: one bad task never stops a batch, `--out -`, `--quiet`, Ctrl-C then `--resume`.

Replay backend (recorded real completions), real store and sandbox. The isolation test gives
one task an LLM that raises what a broken plugin would; the other task replays as usual.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import scenarios
from conftest import RECORDINGS, interruptible
from typer.testing import CliRunner

from agentlib.agent import Agent
from agentlib.agent.batch import checkpoint_path, run_batch
from agentlib.agent.taskfile import TaskLine
from agentlib.cli import app
from agentlib.llm.replay import ReplayLLM
from agentlib.model import Task
from agentlib.runtime import Runtime


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTLIB_")}
    # the recordings predate the evidence step, as in conftest.isolated_env
    env.update(AGENTLIB_CROSS_CHECK="never", AGENTLIB_LLM="replay", AGENTLIB_RECORDINGS=str(RECORDINGS / "agent.json"),
               AGENTLIB_STORE=str(tmp_path / "store"), AGENTLIB_HOME=str(tmp_path / "home"),
               AGENTLIB_NO_PLUGINS="1", PYTHONHASHSEED="0", **extra)
    return env


def _line(task) -> str:
    return json.dumps({"id": task.id, "prompt": task.prompt,
                       "tests": [t.source for t in task.tests]}) + "\n"


def _records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_task_with_a_1_mb_prompt_fails_alone_and_the_next_task_is_solved(tmp_path):
    huge = {"id": "huge", "prompt": "Write a function add(a, b). " + "word " * 200_000,
            "tests": [t.source for t in scenarios.ADD.tests]}
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps(huge) + "\n" + _line(scenarios.ADD))
    out = tmp_path / "results.jsonl"
    done = subprocess.run([sys.executable, "-m", "agentlib", "solve", "--file", str(tasks),
                           "--out", str(out)], capture_output=True, text=True,
                          env=_env(tmp_path), timeout=300)
    assert done.returncode == 1, done.stderr
    first, second = _records(out.read_text())
    assert (first["id"], first["status"]) == ("huge", "error")
    assert "no recorded completion" in first["error"]  # the LLM's error, in its own line
    assert (second["id"], second["status"], second["decision"]) == ("add", "solved", "created")
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: huge: ")
    assert "Traceback" not in done.stderr


class BrokenForOneTask:
    """An LLM (as a plugin might register) that raises a plain exception for one task."""

    name = "broken-for-one"

    def __init__(self, inner, poisoned: str) -> None:
        self.inner = inner
        self.poisoned = poisoned

    def complete(self, messages, **options):
        if self.poisoned in messages[-1]["content"]:
            raise RuntimeError("plugin bug: index out of range")
        return self.inner.complete(messages, **options)


def test_any_exception_while_solving_one_task_becomes_its_error_line(tmp_path, settings,
                                                                     builtin_pm):
    llm = BrokenForOneTask(ReplayLLM(RECORDINGS / "agent.json"), "combines two integers")
    agent = Agent(Runtime(settings, pm=builtin_pm, llm=llm))
    contradictory = Task.from_asserts("Square it.", ["assert sq(2) == 4", "assert sq(2) == 5"],
                                      id="contradictory")
    lines = [TaskLine(1, "misleading", task=scenarios.MISLEADING),
             TaskLine(2, "contradictory", task=contradictory), TaskLine(3, "add", task=scenarios.ADD)]
    out = tmp_path / "results.jsonl"
    counts = run_batch(agent, lines, out)
    records = {r["id"]: r for r in _records(out.read_text())}
    assert records["misleading"]["status"] == "error"
    assert records["misleading"]["error"] == "unexpected RuntimeError: plugin bug: index out of range"
    assert records["contradictory"]["status"] == "error"
    assert "expect different values from the same call sq(2)" in records["contradictory"]["error"]
    assert records["add"]["status"] == "solved"
    assert (counts.done, counts.error, counts.solved) == (3, 2, 1)


def test_out_dash_writes_the_results_to_stdout_and_no_files(tmp_path, monkeypatch):
    for key, value in _env(tmp_path).items():
        if key.startswith("AGENTLIB_"):
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(_line(scenarios.ADD) + _line(scenarios.ADD_REPHRASED))
    result = CliRunner().invoke(app, ["solve", "--file", str(tasks), "--out", "-", "--quiet"])
    assert result.exit_code == 0, result.output
    records = _records(result.stdout)
    assert [(r["id"], r["decision"]) for r in records] == [("add", "created"),
                                                           ("add-rephrased", "reused")]
    assert result.stderr == ""  # --quiet: no summary, and nothing failed
    assert not (tmp_path / "-").exists() and not checkpoint_path(Path("-")).exists()


def _checkpoints(path: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_ctrl_c_in_a_batch_says_to_resume_and_resume_finishes(tmp_path, library):
    """The first task is reused from a library module whose test sleeps in the sandbox, so
    Ctrl-C arrives while a task is running (not between tasks)."""
    from record_refactor import make_module

    library.add(make_module("nap", "import time\n\n\ndef nap(n):\n    time.sleep(n)\n"
                                   "    return n\n", ["assert nap(0) == 0"]))
    sleepy = Task.from_asserts("Sleep n seconds and return n.", ["assert nap(6) == 6"],
                               id="sleepy")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(_line(sleepy) + _line(scenarios.ADD))
    out = tmp_path / "results.jsonl"
    cmd = [sys.executable, "-m", "agentlib", "solve", "--file", str(tasks), "--out", str(out)]
    env = _env(tmp_path, AGENTLIB_TEST_TIMEOUT_S="30")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, preexec_fn=interruptible)
    deadline = time.monotonic() + 120
    while _checkpoints(checkpoint_path(out)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # after retrieve: try_reuse runs nap(6) in the sandbox
    assert proc.poll() is None, proc.communicate()
    time.sleep(0.5)
    interrupted = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
    stdout, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - interrupted < 4  # not the 6 s the test sleeps
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted; rerun with --resume")
    assert "Traceback" not in stderr and out.read_text() == ""
    resumed = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    records = {r["id"]: r for r in _records(out.read_text())}
    assert records["sleepy"]["decision"] == "reused" and records["add"]["status"] == "solved"
