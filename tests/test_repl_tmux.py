"""The REPL as a person sees it: run in tmux, keys sent, the pane captured and read.

Needs tmux (`apt-get install -y tmux`). Run alone with
`python -m pytest tests/test_repl_tmux.py -q` (see docs/repl.md).
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid

import pytest
import scenarios
from conftest import RECORDINGS
from test_examples_cli import EDITED_TEST, NO_EXAMPLES_TASK, WORDS_TASK
from test_repl import AGENTLIB, repl_env


class Pane:
    """One tmux session on a private server, running a command in a 120x40 window."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is not installed: apt-get install -y tmux")
        self.socket = f"agentlib-test-{uuid.uuid4().hex[:8]}"
        self.env = env
        self.tmux("new-session", "-d", "-s", "repl", "-x", "120", "-y", "40", *command)

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, env=self.env, timeout=30)
        if done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def screen(self) -> str:
        """The visible window plus 300 lines of scrollback, as plain text."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-300", "-t", "repl")

    def visible(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "repl")

    def wait_for(self, needle: str, timeout: float = 120, visible: bool = False) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.visible() if visible else self.screen()
            if needle in screen:
                return screen
            time.sleep(0.3)
        raise AssertionError(f"{needle!r} never appeared on screen:\n{self.screen()}")

    def wait_for_count(self, needle: str, count: int, timeout: float = 120) -> str:
        """Wait until `needle` has appeared `count` times (scrollback included)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if screen.count(needle) >= count:
                return screen
            time.sleep(0.3)
        raise AssertionError(f"{needle!r} never appeared {count} times:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", "repl", key)
            time.sleep(0.1)

    def line(self, text: str) -> None:
        self.tmux("send-keys", "-t", "repl", "-l", text)
        self.keys("Enter")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def test_a_person_sees_the_status_bar_the_solved_task_and_completions(tmp_path):
    pane = Pane([AGENTLIB, "repl"], repl_env(tmp_path, PROMPT_TOOLKIT_NO_CPR=""))
    try:
        first = pane.wait_for("agentlib›", timeout=30)
        assert "empty line" in first  # how to type a task, before anything else
        # the bottom bar says how to type and what is loading; then that it is ready
        bar = pane.wait_for("model replay:default ready", timeout=120, visible=True)
        assert "empty line solves" in bar.splitlines()[-1] or "empty line solves" in bar
        pane.wait_for("library 0 module(s)", visible=True)

        pane.line(scenarios.ADD.prompt)
        assert "test›" in pane.wait_for("test›", visible=True)  # the continuation prompt
        for test in scenarios.ADD.tests:
            pane.line(test.source)
        pane.keys("Enter")  # the empty line solves
        screen = pane.wait_for("stored as add v1")
        assert "def add(a, b):" in screen
        assert screen.count("✓") >= 2 and "passed" in screen
        assert "created · solved" in screen
        pane.wait_for("library 1 module(s)", visible=True)

        # Tab completes the command, then the module name
        pane.tmux("send-keys", "-t", "repl", "-l", "/sh")
        pane.keys("Tab")
        pane.wait_for("agentlib› /show", visible=True)
        pane.tmux("send-keys", "-t", "repl", "-l", " ad")
        pane.keys("Tab")
        pane.wait_for("agentlib› /show add", visible=True)
        pane.keys("Enter")
        module = pane.wait_for("add v1 · active")
        assert "counters" in module and "retrieved 0, reused 0" in module

        pane.keys("C-d")
        pane.wait_for("bye")
    finally:
        pane.close()


def test_a_person_accepts_derived_tests_edits_proposed_ones_and_drops_others(tmp_path):
    """Recorded completions of the real small model (tests/record_examples.py)."""
    choices = "Enter solves with them"
    pane = Pane([AGENTLIB, "repl"], repl_env(
        tmp_path, PROMPT_TOOLKIT_NO_CPR="", AGENTLIB_NO_PLUGINS="1",
        AGENTLIB_RECORDINGS=str(RECORDINGS / "examples.json")))
    try:
        pane.wait_for("agentlib›", timeout=30)
        pane.wait_for("model replay:default ready", timeout=120, visible=True)
        # examples written in words: the tests read from them are shown, marked, accepted
        pane.line(WORDS_TASK)
        pane.keys("Enter")
        screen = pane.wait_for(choices)
        assert "3 test(s) derived from the text:" in screen
        assert 'assert vowel_count("sky") == 0    (derived)' in screen
        pane.keys("Enter")  # accept
        screen = pane.wait_for("stored as vowel_count v1")
        assert "created · solved" in screen

        # no example: the model proposes tests; the person adds one and solves
        pane.line(NO_EXAMPLES_TASK)
        pane.keys("Enter")
        screen = pane.wait_for_count(choices, 2)
        assert "test(s) proposed by the model (check them):" in screen
        proposed = [line.split("    (proposed)")[0].strip() for line in screen.splitlines()
                    if line.rstrip().endswith("(proposed)")]
        assert proposed and all(t.startswith("assert max_of_three(") for t in proposed)
        pane.line("e")
        pane.wait_for("agentlib› " + proposed[0], visible=True)  # the tests, to edit
        pane.keys("Enter")  # a new line after the last one
        pane.line(EDITED_TEST)
        pane.keys("Enter")  # the empty line solves
        screen = pane.wait_for("stored as max_of_three v1")
        table = screen[screen.rindex("def max_of_three"):]
        assert EDITED_TEST in table and all(t in table for t in proposed)  # every test ran
        assert "proposed by the model" not in table  # the person's tests now: no warning

        # proposed again, and dropped: nothing is solved
        pane.line(NO_EXAMPLES_TASK)
        pane.keys("Enter")
        pane.wait_for_count(choices, 3)
        pane.line("d")
        pane.wait_for("dropped: add tests with /test")
        pane.keys("C-d")
        pane.wait_for("bye")
        assert pane.screen().count("stored as") == 2
    finally:
        pane.close()
