"""Batch runs: kill -9 and --resume, workers, shards (replay backend, real sandbox and store)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import scenarios
from conftest import RECORDINGS
from typer.testing import CliRunner

from agentlib.agent.batch import checkpoint_path, shard
from agentlib.agent.taskfile import TaskLine
from agentlib.cli import app

HERE = Path(__file__).parent

# Recorded in this order into one growing library (tests/record_completions.py).
STREAM = [scenarios.ADD, scenarios.ADD_REPHRASED, scenarios.PLUS_WRAPPER, scenarios.SIMILAR]


def _task_file(path, tasks):
    path.write_text("".join(json.dumps({"id": t.id, "prompt": t.prompt,
                                        "tests": [x.source for x in t.tests]}) + "\n"
                            for t in tasks))
    return path


def _env(tmp_path):
    env = dict(os.environ)
    env.update(AGENTLIB_LLM="replay", AGENTLIB_RECORDINGS=str(RECORDINGS / "agent.json"),
               AGENTLIB_STORE=str(tmp_path / "store"), AGENTLIB_HOME=str(tmp_path / "home"),
               PYTHONHASHSEED="0", AGENTLIB_NO_PLUGINS="1")
    return env


def _lines(path) -> int:
    return path.read_text().count("\n") if path.exists() else 0


def test_kill_9_mid_batch_then_resume_finishes_every_task_exactly_once(tmp_path):
    tasks = _task_file(tmp_path / "tasks.jsonl", STREAM)
    out = tmp_path / "results.jsonl"
    cmd = [sys.executable, "-m", "agentlib", "solve", "--file", str(tasks), "--out", str(out),
           "--resume"]
    rng = random.Random(1234)
    kills = 0
    for target in range(len(STREAM)):  # kill once while each task is in flight
        proc = subprocess.Popen(cmd, env=_env(tmp_path), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline and _lines(out) < target:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.4))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    final = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert kills >= 2  # the test must have interrupted runs midway
    records = [json.loads(line) for line in out.read_text().splitlines()]
    ids = [r["id"] for r in records]
    assert sorted(ids) == sorted(t.id for t in STREAM) and len(ids) == len(set(ids))
    assert all(r["status"] == "solved" for r in records)
    by_id = {r["id"]: r for r in records}
    assert by_id["add"]["decision"] == "created"
    assert by_id["add-rephrased"]["decision"] == "reused"
    assert checkpoint_path(out).exists()


def _killed_then_resumed(tmp_path, tasks, kill_after: int) -> tuple[list[dict], str]:
    """Run the batch with a SIGKILL right after checkpoint write `kill_after` (0: none), then
    `--resume` it to the end; return the result records and the first run's stderr."""
    out = tmp_path / "results.jsonl"
    args = ["solve", "--file", str(tasks), "--out", str(out), "--resume"]
    first = subprocess.run([sys.executable, str(HERE / "killpoint.py"), str(kill_after), *args],
                           env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    if kill_after:
        assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
        final = subprocess.run([sys.executable, "-m", "agentlib", *args], env=_env(tmp_path),
                               capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stderr[-2000:]
    return [json.loads(line) for line in out.read_text().splitlines()], first.stderr


def test_a_batch_killed_at_every_checkpoint_boundary_resumes_each_task_exactly_once(tmp_path):
    """A crash right after any checkpoint write (a step's writes or a checkpoint: between
    the input checkpoint and the first step too) never marks a task done that had not
    finished, and never runs one to its end twice: the resumed batch has one line per task
    with what an uninterrupted run has, and the library holds each module once."""
    tasks = _task_file(tmp_path / "tasks.jsonl", STREAM[:2])
    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    clean, stderr = _killed_then_resumed(clean_dir, tasks, 0)
    writes = int(stderr.rsplit("writes: ", 1)[1].split()[0])
    assert writes >= 10

    def summary(records):
        return sorted((r["id"], r["status"], r["decision"], r["llm_calls"], r["program"])
                      for r in records)

    for n in range(1, writes + 1):
        run_dir = tmp_path / f"kill-{n}"
        run_dir.mkdir()
        records, _ = _killed_then_resumed(run_dir, tasks, n)
        assert summary(records) == summary(clean), f"killed after checkpoint write {n}"
        check = subprocess.run([sys.executable, "-m", "agentlib", "lib", "history", "add"],
                               env=_env(run_dir), capture_output=True, text=True, timeout=120)
        assert check.returncode == 0 and check.stdout.count("active") == 1, check.stdout
    print(f"killed at each of {writes} checkpoint writes; every task ran to its end once")


def test_finished_checkpoint_is_not_redone(tmp_path, monkeypatch):
    """A task whose graph finished but whose result line was lost is rebuilt, not re-solved."""
    monkeypatch.setenv("AGENTLIB_LLM", "replay")
    monkeypatch.setenv("AGENTLIB_RECORDINGS", str(RECORDINGS / "agent.json"))
    monkeypatch.setenv("AGENTLIB_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("AGENTLIB_NO_PLUGINS", "1")
    tasks = _task_file(tmp_path / "tasks.jsonl", STREAM[:1])
    out = tmp_path / "results.jsonl"
    runner = CliRunner()
    assert runner.invoke(app, ["solve", "--file", str(tasks), "--out", str(out)]).exit_code == 0
    first = json.loads(out.read_text())
    out.write_text("")  # the line was lost in the crash, the checkpoint was not
    monkeypatch.setenv("AGENTLIB_RECORDINGS", str(tmp_path / "empty.json"))  # no LLM possible
    again = runner.invoke(app, ["solve", "--file", str(tasks), "--out", str(out), "--resume"])
    assert again.exit_code == 0, again.output
    second = json.loads(out.read_text())
    assert second["decision"] == "created" and second["program"] == first["program"]
    assert second["llm_calls"] == first["llm_calls"]


def test_two_workers_solve_every_task_once(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTLIB_LLM", "replay")
    monkeypatch.setenv("AGENTLIB_RECORDINGS", str(RECORDINGS / "agent.json"))
    monkeypatch.setenv("AGENTLIB_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("AGENTLIB_NO_PLUGINS", "1")
    # Without the library: with two workers the order of stores (and so prompts) is not fixed.
    tasks = _task_file(tmp_path / "tasks.jsonl", [scenarios.ADD, scenarios.MISLEADING])
    out = tmp_path / "results.jsonl"
    result = CliRunner().invoke(app, ["solve", "--file", str(tasks), "--out", str(out),
                                      "--workers", "2", "--no-library"])
    records = {json.loads(line)["id"]: json.loads(line) for line in out.read_text().splitlines()}
    assert set(records) == {"add", "misleading"}
    assert records["add"]["status"] == "solved" and records["misleading"]["status"] == "failed"
    assert result.exit_code == 1


def test_shards_partition_the_task_list():
    lines = [TaskLine(n, str(n)) for n in range(10)]
    parts = [shard(lines, i, 3) for i in (1, 2, 3)]
    assert sorted(line.id for part in parts for line in part) == sorted(str(n) for n in range(10))
    assert [line.id for line in parts[0]] == ["0", "3", "6", "9"]
