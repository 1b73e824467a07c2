"""The REPL's command table, input parsing and completion; every command run once (piped stdin)."""

from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

import scenarios
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from test_repl import AGENTLIB, repl_env

from agentlib.cli.repl_commands import add_plugin_commands, builtin_commands
from agentlib.cli.repl_draft import TaskDraft
from agentlib.cli.repl_keys import completer
from agentlib.plugins import hookimpl, make_plugin_manager
from agentlib.runtime import Runtime


def test_the_commands_the_issue_names_are_in_the_table_with_help():
    table = builtin_commands()
    assert set(table) == {"solve", "test", "lib", "show", "search", "insights", "trace",
                          "refactor", "model", "export", "help", "quit"}
    assert all(row.help for row in table.values())


def test_typed_text_splits_into_description_and_tests():
    draft = TaskDraft.parse("Add two numbers,\nreturning the sum.\nassert add(1, 2) == 3\n"
                            "  assert add(0, 0) == 0  \n")
    assert draft.prompt == "Add two numbers,\nreturning the sum."
    assert draft.tests == ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]


def _completions(text: str, module_names=("add", "is_prime")) -> list[str]:
    session = SimpleNamespace(commands=builtin_commands(), module_names=list(module_names),
                              runtime=Runtime(pm=make_plugin_manager(load_entry_points=False)))
    found = completer(session).get_completions(Document(text, len(text)), CompleteEvent())
    return [c.text for c in found]


def test_completion_of_commands_module_names_and_models():
    assert _completions("/s") == ["/solve", "/show", "/search"]
    assert _completions("/show is") == ["is_prime"]
    assert _completions("/show ") == ["add", "is_prime"]
    assert set(_completions("/model ")) >= {"local", "replay", "openai", "default", "small"}
    assert _completions("Write /s") == []  # only at the start of an entry
    assert _completions("/lib x") == []  # /lib takes no argument


class Greeter:
    """A plugin, registered through the real hook."""

    @hookimpl
    def register_repl_commands(self, register):
        register("hello", lambda session, arg: f"hello {arg}", "Say hello.")
        register("lib", lambda session, arg: "mine", "Try to replace /lib.")


def test_plugins_add_rows_through_the_hook_but_never_replace_a_builtin():
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(Greeter(), name="greeter")
    table = builtin_commands()
    refused = add_plugin_commands(table, pm)
    assert table["hello"].handler(None, "you") == "hello you"
    assert (table["hello"].help, table["hello"].plugin) == ("Say hello.", "greeter")
    assert table["lib"].plugin == "" and refused == [
        "plugin greeter registers /lib, which agentlib already has; it is left out"]


class Broken:
    @hookimpl
    def register_repl_commands(self, register):
        register("boom", lambda session, arg: 1 / 0, "Fail.")


def test_plugin_commands_run_in_the_session_and_their_errors_are_reported(settings):
    import io

    from rich.console import Console

    from agentlib.cli.repl import ReplSession, run_entry

    pm = make_plugin_manager(load_entry_points=False)
    pm.register(Greeter(), name="greeter")
    pm.register(Broken(), name="broken")
    out = io.StringIO()
    session = ReplSession(Runtime(settings, pm=pm), Console(file=out, width=100))
    assert run_entry(session, "/hello world") and run_entry(session, "/boom")
    assert run_entry(session, "/help") and not run_entry(session, "/quit")
    text = out.getvalue()
    assert "hello world" in text
    assert "error: /boom (plugin broken) raised ZeroDivisionError: division by zero" in text
    assert "Say hello." in text  # plugin rows are listed by /help
    assert "warning: plugin greeter registers /lib" in text


def test_every_command_from_piped_input(tmp_path):
    export = tmp_path / "export.jsonl"
    lines = [scenarios.ADD.prompt, "",  # a task without tests waits for /test
             *(f"/test {t.source}" for t in scenarios.ADD.tests), "/solve", "/trace", "/lib",
             "/show add", "/search sum of two numbers", "/insights", "/refactor", "/model",
             "/model small", f"/export {export}", f"/export {tmp_path}/missing/x.jsonl",
             "/show nothing", "/nonsense", "/help",
             "/quit", "/lib"]
    done = subprocess.run([AGENTLIB, "repl"], input="\n".join(lines) + "\n", text=True,
                          capture_output=True, env=repl_env(tmp_path), timeout=300)
    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert "no tests yet" in out
    assert "the task has 2 test(s)" in out
    assert "created · solved" in out and "stored as add v1" in out
    assert "try_reuse" in out  # /trace
    assert "1 module(s)" in out and "add(a, b)" in out  # /lib
    assert "task_prompt" in out  # /show
    assert "nearest to 'sum of two numbers'" in out  # /search
    assert "no insights yet" in out
    assert "helpers created" in out and "none" in out  # /refactor: one module, no cluster
    assert "backend replay, model default" in out and "switched to replay:small" in out
    assert json.loads(export.read_text().splitlines()[0])  # /export wrote the library
    assert "error: no module named 'nothing'" in out  # an error keeps the session
    assert "error: cannot write" in out and "No such file or directory" in out  # /export
    assert "internal error" not in out
    assert "unknown command /nonsense" in out
    assert "/insights" in out and "empty line" in out  # /help
    assert out.rstrip().endswith("bye") and out.count("1 module(s)") == 1  # /quit quit
