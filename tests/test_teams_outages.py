"""Outages are waited out, then reported per task: a frozen model server and a Chroma server
killed mid-batch, each through the real CLI.

The frozen model server is a socket on loopback that accepts connections and never answers:
a stand-in only in the sense of a misbehaving peer, which is what the test is about. The
library server is a real `chroma run`, killed with SIGKILL and started again on its data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import scenarios
from conftest import RECORDINGS
from servers import FrozenServer
from test_batch import STREAM, _task_file


def _env(tmp_path, **settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(AGENTLIB_HOME=str(tmp_path / "home"), AGENTLIB_NO_PLUGINS="1",
               PYTHONHASHSEED="0", COLUMNS="200", **settings)
    return env


def _records(out) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_a_frozen_model_server_gives_each_task_an_error_line_and_the_batch_goes_on(tmp_path):
    frozen = FrozenServer()
    try:
        tasks = _task_file(tmp_path / "tasks.jsonl", [scenarios.ADD, scenarios.MISLEADING])
        out = tmp_path / "results.jsonl"
        start = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "agentlib", "solve", "--file", str(tasks), "--out", str(out),
             "--no-library", "--llm", "openai", "--base-url", frozen.base_url, "--model", "m"],
            env=_env(tmp_path, AGENTLIB_SERVER_TIMEOUT_S="0.5", AGENTLIB_SERVER_RETRIES="1",
                     AGENTLIB_SERVER_BACKOFF_S="0.1"),
            capture_output=True, text=True, timeout=300)
        elapsed = time.monotonic() - start
    finally:
        frozen.close()
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    records = _records(out)
    assert [r["id"] for r in records] == ["add", "misleading"]  # the batch went on
    for record in records:
        assert record["status"] == "error" and record["outage"] == "model"
        assert "failed 2 time(s): no answer within 0.5 s" in record["error"]
    assert frozen.accepted >= 4  # two tries per task, each accepted and left unanswered
    assert "errors 2" in done.stderr
    print(f"two tasks, each 2 tries of 0.5 s: the batch took {elapsed:.1f} s")


def test_a_chroma_server_killed_mid_batch_gives_error_lines_then_resume_finishes(
        tmp_path, chroma_server):
    tasks = _task_file(tmp_path / "tasks.jsonl", STREAM)
    out = tmp_path / "results.jsonl"
    env = _env(tmp_path, AGENTLIB_LLM="replay", AGENTLIB_RECORDINGS=str(RECORDINGS / "agent.json"),
               AGENTLIB_STORE=chroma_server.url, AGENTLIB_SERVER_TIMEOUT_S="5",
               AGENTLIB_SERVER_RETRIES="2", AGENTLIB_SERVER_BACKOFF_S="0.2")
    cmd = [sys.executable, "-m", "agentlib", "solve", "--file", str(tasks), "--out", str(out),
           "--resume"]
    batch = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.monotonic() + 240
    while (not out.exists() or not out.read_text().count("\n")) and time.monotonic() < deadline \
            and batch.poll() is None:
        time.sleep(0.05)
    chroma_server.kill()
    _, stderr = batch.communicate(timeout=300)
    assert batch.returncode == 1 and "Traceback" not in stderr, stderr[-3000:]
    records = _records(out)
    assert len(records) == len(STREAM)  # every task got its line: the batch went on
    down = [r for r in records if r.get("outage")]
    assert down and all(r["outage"] == "library" and r["status"] == "error" for r in down)
    assert all("chroma run" in r["error"] for r in down)
    assert records[0]["status"] == "solved"

    chroma_server.start()
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    records = _records(out)
    assert sorted(r["id"] for r in records) == sorted(t.id for t in STREAM)
    assert all(r["status"] == "solved" for r in records)
    print(f"{len(down)} task(s) hit the outage; --resume solved them")


def test_a_frozen_library_server_times_out_each_request_then_says_so(chroma_server, embedder):
    """A library server that stops answering (SIGSTOP) fails each request after
    `server_timeout_s`, retried `server_retries` times, with a LibraryUnavailable that says
    where and what to check — not a hang."""
    import signal

    import pytest

    from agentlib.library.remote import LibraryUnavailable, Patience
    from agentlib.library.store import Library

    library = Library(chroma_server.url, embedder,
                      patience=Patience(server_timeout_s=0.5, server_retries=1,
                                        server_backoff_s=0.1))
    assert library.list() == []
    os.kill(chroma_server.proc.pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        with pytest.raises(LibraryUnavailable, match=r"did not answer .* in 2 tries"):
            library.list()
        elapsed = time.monotonic() - start
    finally:
        os.kill(chroma_server.proc.pid, signal.SIGCONT)
    assert 1.0 <= elapsed < 10
    assert library.list() == []  # the same client goes on once the server answers again
