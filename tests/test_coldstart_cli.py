"""Built-in commands load when they run (`agentlib.cli.LazyGroup`): `--help` lists them from
the table without importing them, and says exactly what the loaded commands would say.

Real typer app and real command modules; cold `python -m agentlib` processes where a test is
about what a fresh process imports.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from agentlib.cli import BUILTIN, app, load_builtin


def _help(group) -> str:
    ctx = group.make_context("agentlib", ["--help"], resilient_parsing=True)
    return group.get_help(ctx)


@pytest.mark.parametrize("name", list(BUILTIN))
def test_each_help_line_is_the_command_s_own_first_paragraph(name):
    command = load_builtin(name)
    assert command.name == name
    assert inspect.cleandoc(command.help or "").split("\n\n")[0].replace("\n", " ") == \
        BUILTIN[name][2]


def test_help_is_the_same_before_and_after_the_commands_load(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    group = typer.main.get_command(app)
    lazy = _help(group)
    assert not group.commands  # listing loaded nothing
    ctx = group.make_context("agentlib", ["lib"], resilient_parsing=True)
    for name in BUILTIN:
        assert group.get_command(ctx, name) is not None
    assert set(group.commands) == set(BUILTIN)
    assert _help(group) == lazy


def test_a_command_runs_as_before_with_its_options_and_error_policy(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    missing = CliRunner().invoke(app, ["lib", "list", "--library", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "does not exist" in missing.stderr  # one error: line
    assert CliRunner().invoke(app, ["lib", "nonsense"]).exit_code == 2
    assert CliRunner().invoke(app, ["nonsense"]).exit_code == 2


IMPORTED = ("import sys, json, runpy\n"
            "sys.argv = ['agentlib', *json.loads(sys.argv[1])]\n"
            "try:\n    runpy.run_module('agentlib', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print('IMPORTED', json.dumps(sorted(m for m in sys.modules if m.startswith("
            "'agentlib.cli.') or m.split('.')[0] in ('chromadb', 'langgraph', 'torch'))))\n")


def _imported(args: list[str]) -> list[str]:
    env = {**os.environ, "AGENTLIB_NO_PLUGINS": "1"}
    done = subprocess.run([sys.executable, "-c", IMPORTED, json.dumps(args)],
                          capture_output=True, text=True, env=env, timeout=120)
    line = next(x for x in done.stdout.splitlines() if x.startswith("IMPORTED "))
    return json.loads(line.split(" ", 1)[1])


def test_help_imports_no_command_module_and_a_group_only_its_own():
    assert _imported(["--help"]) == ["agentlib.cli.errors", "agentlib.cli.options",
                                     "agentlib.cli.plugins"]
    shown = _imported(["lib", "list", "--help"])
    assert "agentlib.cli.lib" in shown
    assert not {"agentlib.cli.bench", "agentlib.cli.doctor", "agentlib.cli.solve",
                "agentlib.cli.repl"} & set(shown)
    assert not [m for m in shown if m.split(".")[0] in ("chromadb", "langgraph", "torch")]
