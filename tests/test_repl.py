"""The REPL in a real pseudo-terminal (pexpect), with the replay backend (recorded completions)."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pexpect
import pytest
import scenarios
from conftest import RECORDINGS

AGENTLIB = str(Path(sys.executable).with_name("agentlib"))
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>]")
PROMPT = "\nagentlib›"  # a fresh prompt (the echo of an entered line is not after a newline)
UP = "\x1b[A"


def repl_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a spawned REPL: its own home and store, the replay backend."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTLIB_")}
    env.update(AGENTLIB_HOME=str(tmp_path / "home"), AGENTLIB_STORE=str(tmp_path / "store"),
               AGENTLIB_LLM="replay", AGENTLIB_RECORDINGS=str(RECORDINGS / "agent.json"),
               HF_HUB_OFFLINE="1", TERM="xterm-256color",
               PROMPT_TOOLKIT_NO_CPR="1",  # pexpect cannot answer cursor-position requests
               AGENTLIB_CROSS_CHECK="never")  # as in-process (conftest.isolated_env)
    env.update(extra)
    return env


class Terminal:
    """A process in a pty, read as a person would: escape sequences stripped."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        # poll, not select: select refuses descriptors >= 1024, which a long test session
        # reaches (every Chroma client the earlier tests opened keeps its files open)
        self.child = pexpect.spawn(AGENTLIB, args, env=env, encoding="utf-8",
                                   dimensions=(50, 140), timeout=5, use_poll=True)
        self.raw = ""
        self.seen = 0  # how much of the text earlier waits consumed

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw).replace("\r", "")

    def wait_for(self, needle: str, timeout: float = 120) -> str:
        """Wait until `needle` appears in new output; return the output up to it."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text
            found = text.find(needle, self.seen)
            if found >= 0:
                before = text[self.seen:found]
                self.seen = found + len(needle)
                return before
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} did not appear within {timeout} s; "
                                     f"screen text since last match:\n{text[self.seen:][-3000:]}")
            try:
                self.raw += self.child.read_nonblocking(65536, timeout=0.2)
            except pexpect.TIMEOUT:
                pass
            except pexpect.EOF:
                if needle not in self.text[self.seen:]:
                    raise AssertionError(f"process ended before {needle!r}:\n"
                                         f"{self.text[self.seen:][-3000:]}") from None

    def type(self, *lines: str) -> None:
        for line in lines:
            self.child.send(line + "\r")
            time.sleep(0.05)

    def quit(self) -> int:
        self.child.sendcontrol("d")
        self.wait_for("bye", timeout=30)
        self.child.expect(pexpect.EOF, timeout=30)
        self.child.close()
        return self.child.exitstatus

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def terminals():
    opened: list[Terminal] = []

    def start(args: list[str], env: dict[str, str]) -> Terminal:
        opened.append(Terminal(args, env))
        return opened[-1]

    yield start
    for terminal in opened:
        terminal.close()


def type_task(term: Terminal, task) -> None:
    """Type a task as a person does: the description, one test per line, an empty line."""
    term.type(task.prompt, *[t.source for t in task.tests], "")


def test_a_task_is_solved_then_shown_and_traced(tmp_path, terminals):
    term = terminals(["repl"], repl_env(tmp_path))
    banner = term.wait_for(PROMPT, timeout=30)
    assert "empty line" in banner  # how to type a task is said up front
    type_task(term, scenarios.ADD)
    shown = term.wait_for("created")
    assert "def add(a, b):" in shown
    assert shown.count("passed") >= 2 and "✓" in shown  # the verdict table, one row per test
    assert "stored as add v1" in term.wait_for(PROMPT)
    term.type("/trace")
    trace = term.wait_for(PROMPT)
    for node in ("retrieve", "try_reuse", "generate", "validate", "store"):
        assert node in trace
    assert "stored add v1" in trace
    term.type("/show add")
    module = term.wait_for(PROMPT)
    assert "def add(a, b):" in module and "assert add(-1, 1) == 0" in module
    assert "repl-1" in module  # provenance: the REPL task that created it
    assert term.quit() == 0


def test_history_survives_a_restart(tmp_path, terminals):
    env = repl_env(tmp_path)
    started = time.monotonic()
    first = terminals(["repl"], env)
    first.wait_for(PROMPT, timeout=30)
    assert time.monotonic() - started < 5  # the library and model load behind the prompt
    first.type("/help")
    assert "/insights" in first.wait_for(PROMPT)
    assert first.quit() == 0
    assert "/help" in (tmp_path / "home" / "repl_history").read_text()

    second = terminals(["repl"], env)
    second.wait_for(PROMPT, timeout=30)
    second.child.send(UP)  # recall the previous session's last entry
    second.wait_for("/help")
    second.type("")
    assert "/insights" in second.wait_for(PROMPT)  # the recalled command ran
    assert second.quit() == 0


def test_ctrl_c_during_a_sandbox_run_returns_to_the_prompt(tmp_path, terminals):
    term = terminals(["repl"], repl_env(tmp_path))
    term.wait_for(PROMPT, timeout=30)
    type_task(term, scenarios.ADD)
    term.wait_for("created")
    term.wait_for(PROMPT)
    # `add` is retrieved and run against a test that sleeps: a long sandbox run.
    term.type("Return the total of two numbers.",
              "assert add(2, 3) == 5 and __import__('time').sleep(3) is None", "")
    term.wait_for("looking in the library", timeout=30)
    time.sleep(1.0)
    interrupted = time.monotonic()
    term.child.sendintr()
    after = term.wait_for("cancelled", timeout=30)
    # at most the running sandbox test (3 s of sleep) finishes first; generous for busy CPUs
    assert time.monotonic() - interrupted < 20
    assert "error" not in after and "reused" not in after
    term.wait_for(PROMPT)
    term.type("/lib")
    listing = term.wait_for(PROMPT)
    assert "add(a, b)" in listing and "1 module(s)" in listing  # nothing stored was lost
    assert term.quit() == 0


def test_agentlib_alone_starts_the_repl_in_a_terminal_and_prints_help_otherwise(tmp_path,
                                                                                terminals):
    term = terminals([], repl_env(tmp_path))
    term.wait_for(PROMPT, timeout=30)
    assert term.quit() == 0
    import subprocess

    done = subprocess.run([AGENTLIB], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env=repl_env(tmp_path), timeout=30)
    assert "Usage" in done.stdout and "repl" in done.stdout and PROMPT not in done.stdout
