"""Command-line conventions: -h, shell completion, options before the command, --quiet, the
progress line of a single solve (only on a terminal), and the REPL's /refactor.

Replay backend (recorded real completions), real store and sandbox; the progress test gives
the CLI a pseudo-terminal as stderr, as a person's terminal would be.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest
import scenarios
from conftest import RECORDINGS
from typer.testing import CliRunner

from agentlib.cli import app

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTLIB_")}
    # the recordings predate the evidence step, as in conftest.isolated_env
    env.update(AGENTLIB_CROSS_CHECK="never", AGENTLIB_LLM="replay", AGENTLIB_RECORDINGS=str(RECORDINGS / "agent.json"),
               AGENTLIB_STORE=str(tmp_path / "store"), AGENTLIB_HOME=str(tmp_path / "home"),
               AGENTLIB_NO_PLUGINS="1", PYTHONHASHSEED="0")
    env.update(extra)
    return env


def _solve_args(task) -> list[str]:
    return ["solve", task.prompt, *[a for t in task.tests for a in ("--test", t.source)]]


@pytest.mark.parametrize("args", [["-h"], ["lib", "-h"], ["lib", "list", "-h"], ["solve", "-h"],
                                  ["refactor", "-h"], ["bench", "tasks", "-h"]], ids=" ".join)
def test_dash_h_is_help_everywhere(args):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0 and "Usage" in result.stdout
    assert result.stdout == CliRunner().invoke(app, [*args[:-1], "--help"]).stdout


def test_shell_completion_is_offered_and_printed(monkeypatch):
    import typer.completion

    # With shellingham installed, --show-completion is a flag that detects the calling shell
    # from the process tree, which a test runner started outside a shell does not have:
    # the detection (not what this test is about) is fixed to bash.
    monkeypatch.setattr(typer.completion, "_get_shell_name", lambda: "bash")
    assert "--install-completion" in CliRunner().invoke(app, ["--help"]).stdout
    result = CliRunner().invoke(app, ["--show-completion"])
    assert result.exit_code == 0 and "_AGENTLIB_COMPLETE" in result.stdout, (
        result.output, result.exception)


def test_shared_options_before_the_command_and_the_command_s_own_wins(tmp_path, library,
                                                                        monkeypatch):
    from record_refactor import build_date_library

    monkeypatch.setenv("AGENTLIB_NO_PLUGINS", "1")
    build_date_library(library)
    store = str(tmp_path / "store")
    listed = CliRunner().invoke(app, ["--library", store, "lib", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert "year_of" in {m["name"] for m in json.loads(listed.stdout)}
    other = CliRunner().invoke(app, ["--library", store, "lib", "list", "--library",
                                     str(tmp_path / "nothing")])
    assert other.exit_code == 1 and "nothing does not exist" in other.stderr
    shown = CliRunner().invoke(app, ["--llm", "replay", "--model", "small", "config", "show",
                                     "--json"])
    settings = {row["setting"]: row for row in json.loads(shown.stdout)["settings"]}
    assert (settings["llm"]["value"], settings["llm"]["source"]) == ("replay", "option --llm")
    assert settings["model"]["value"] == "small"
    # and nothing of one invocation is left for the next
    again = CliRunner().invoke(app, ["config", "show", "--json"])
    assert {r["setting"]: r for r in json.loads(again.stdout)["settings"]}["model"]["source"] \
        != "option --model"


def test_progress_shows_on_a_terminal_and_never_in_a_pipe(tmp_path):
    args = [sys.executable, "-m", "agentlib", *_solve_args(scenarios.MISLEADING)]
    piped = subprocess.run(args, capture_output=True, text=True, env=_env(tmp_path / "a"),
                           timeout=300)
    assert piped.returncode == 1
    assert piped.stderr.splitlines() == [piped.stderr.splitlines()[0]]  # its error line only
    assert "attempt" not in piped.stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, text=True,
                            env=_env(tmp_path / "b", COLUMNS="160", TERM="xterm-256color"))
    os.close(slave)
    screen = b""
    poller = select.poll()  # not select(): it fails on descriptors past 1023
    poller.register(master, select.POLLIN)
    while True:
        if not poller.poll(120_000):
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        screen += chunk
    proc.wait(timeout=60)
    os.close(master)
    text = ANSI.sub("", screen.decode(errors="replace"))
    assert proc.returncode == 1
    assert "looking in the library" in text  # before the first node ends
    # each step is drawn when it ends, not only at rich's 10 redraws a second
    assert re.search(r"validating in the sandbox · attempt [1-6]/6 · after (generate|repair)"
                     r": candidate written \d+:\d\d:\d\d", text)  # step, attempt, time
    assert "failed" in proc.stdout.read()


def test_repl_refactor_runs_the_real_refactor(tmp_path, library):
    from record_refactor import RECORDING, build_date_library

    build_date_library(library)
    done = subprocess.run([sys.executable, "-m", "agentlib", "repl"],
                          input="/refactor --dry-run\n/refactor\n/lib\n/quit\n", text=True,
                          capture_output=True, timeout=300,
                          env=_env(tmp_path, AGENTLIB_RECORDINGS=str(RECORDING),
                                   COLUMNS="200"))
    assert done.returncode == 0, done.stderr
    assert "proposal for quarter_of, us_format, year_of" in done.stdout  # the dry run
    assert "dry run: nothing written" in done.stdout
    assert re.search(r"helpers created\W+parse_date", done.stdout)  # the summary table
    assert library.get("parse_date") is not None  # the second /refactor stored it
