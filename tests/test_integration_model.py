"""End to end with the real small model (Qwen2.5-Coder-0.5B GGUF): no recordings, no mocks."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import interruptible

from agentlib.agent import Agent
from agentlib.agent.taskfile import read_tasks
from agentlib.config import Settings
from agentlib.llm.local import LocalLLM

MBPP = Path(__file__).parent / "data" / "mbpp"  # a few records, with their licence note

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def local_llm(small_model):
    llm = LocalLLM(small_model)
    llm.load()
    return llm


def test_real_model_solves_mbpp_tasks_and_programs_run_standalone(tmp_path, local_llm,
                                                                  builtin_pm):
    tasks = [line.task for line in read_tasks(MBPP / "sanitized-prompt.jsonl")][:3]
    assert len(tasks) == 3
    agent = Agent(Settings(store=str(tmp_path / "store"), llm="local", model="small"),
                  llm=local_llm, pm=builtin_pm)
    results = [agent.solve(task) for task in tasks]
    solved = [(task, r) for task, r in zip(tasks, results, strict=True) if r.status == "solved"]
    print(json.dumps([[r.id, r.status, r.decision, r.llm_calls] for r in results]))
    assert len(solved) >= 2, [r.error for r in results]
    for task, result in solved:
        assert result.llm_calls >= 1 and result.decision in ("created", "repaired")
        setup = task.tests[0].setup
        script = "\n".join([setup, result.program] + [t.source for t in task.tests]) + "\n"
        done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True,
                              text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    # Solving the first solved task again reuses the stored module with zero LLM calls.
    again = agent.solve(solved[0][0])
    assert (again.decision, again.llm_calls) == ("reused", 0)


def test_cli_solves_with_the_real_model(tmp_path, small_model):
    env = {"PATH": "/usr/bin:/bin", "AGENTLIB_HOME": str(small_model.parents[1]),
           "AGENTLIB_STORE": str(tmp_path / "store"), "HF_HUB_OFFLINE": "1",
           "HOME": str(tmp_path), "AGENTLIB_NO_PLUGINS": "1"}
    cmd = [sys.executable, "-m", "agentlib", "solve", "--model", "small",
           "Write a function add(a, b) that returns the sum of a and b.",
           "--test", "assert add(2, 3) == 5"]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "created" in first.stdout
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0 and "reused" in second.stdout
    assert "0 LLM call" in second.stdout


def test_a_prompt_longer_than_the_context_is_refused_at_once_with_the_counts(local_llm):
    from agentlib.errors import LLMError

    start = time.monotonic()
    with pytest.raises(LLMError, match=r"the prompt is \d+ tokens but .*'s context holds 8192; "
                                       r"shorten"):
        local_llm.complete([{"role": "user", "content": "word " * 200_000}])  # 1 MB
    assert time.monotonic() - start < 30  # tokenized and refused; nothing generated
    assert local_llm.complete([{"role": "user", "content": "Say hi."}],
                              max_tokens=2).completion_tokens == 2  # still usable


def test_ctrl_c_stops_a_single_solve_at_once_with_a_message(tmp_path, small_model):
    """stderr is a pseudo-terminal, so the progress line shows when generation has begun."""
    import os
    import pty
    import re
    import select
    import signal

    env = {"PATH": "/usr/bin:/bin", "AGENTLIB_HOME": str(small_model.parents[1]),
           "AGENTLIB_STORE": str(tmp_path / "store"), "HF_HUB_OFFLINE": "1",
           "HOME": str(tmp_path), "AGENTLIB_NO_PLUGINS": "1", "TERM": "xterm", "COLUMNS": "160"}
    cmd = [sys.executable, "-m", "agentlib", "solve", "--model", "small",
           "Write a function fib(n) returning the n-th Fibonacci number, with a long docstring.",
           "--test", "assert fib(10) == 55"]
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, env=env,
                            start_new_session=True, preexec_fn=interruptible)
    os.close(slave)
    screen, interrupted = "", None
    deadline = time.monotonic() + 300
    poller = select.poll()  # not select(): it fails on descriptors past 1023
    poller.register(master, select.POLLIN)
    while time.monotonic() < deadline:
        if poller.poll(1000):
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]", "", chunk.decode(errors="replace"))
        if interrupted is None and re.search(r"generating · attempt 1/\d+ · [1-9]\d* tokens",
                                             screen):
            interrupted = time.monotonic()
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        if proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(master)
    assert interrupted is not None, screen[-2000:]
    assert proc.returncode == 130
    assert time.monotonic() - interrupted < 5
    assert "interrupted" in screen and "Traceback" not in screen
