"""The REPL's slash commands: a table of name -> handler, help and argument completion.

Each handler takes the session and the text after the command name; what it returns, if not
None, is printed. Plugins add rows through the `register_repl_commands` hook
(`add_plugin_commands`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Protocol

from rich.table import Table

from agentlib.errors import StoreError, UsageError


class Session(Protocol):
    """What the commands use of the REPL session (`agentlib.cli.repl.ReplSession`)."""

    console: Any
    runtime: Any
    settings: Any
    draft: Any
    last_result: Any
    module_names: list[str]
    commands: dict[str, "Command"]

    def say(self, text: str) -> None: ...
    def library(self) -> Any: ...
    def set_task(self, text: str) -> None: ...
    def solve_draft(self) -> None: ...
    def describe_model(self) -> None: ...
    def switch_model(self, backend: str, model: str) -> None: ...


Handler = Callable[[Session, str], Any]


class QuitRepl(Exception):
    """Raised by /quit to leave the REPL."""


@dataclass(frozen=True)
class Command:
    """One row of the command table."""

    handler: Handler
    help: str
    usage: str = ""
    completes: Literal["", "modules", "models", "paths"] = ""
    """What Tab completes after the command name."""
    plugin: str = ""
    """The plugin that added it ("" for agentlib's own)."""


def _solve(session: Session, arg: str) -> None:
    if arg.strip():
        session.set_task(arg)
        if session.draft is not None and not session.draft.tests:
            return
    if session.draft is None:
        session.say("no task yet: type its description, then its tests, then an empty line")
        return
    session.solve_draft()


def _test(session: Session, arg: str) -> None:
    if not arg.strip():
        session.say("usage: /test assert f(2) == 4")
        return
    if session.draft is None:
        session.say("no task yet: type its description first, then /test adds tests to it")
        return
    session.draft.add_test(arg.strip())
    session.say(f"the task has {len(session.draft.tests)} test(s); /solve runs it")


def _lib(session: Session, arg: str) -> None:
    from agentlib.cli.render import modules_table

    session.console.print(modules_table(session.library().list()))


def _show(session: Session, arg: str) -> None:
    name = arg.strip()
    if not name:
        session.say("usage: /show NAME (Tab completes module names)")
        return
    lib = session.library()
    module = lib.get(name) or lib.get_by_id(name)
    if module is None:
        raise StoreError(f"no module named {name!r}; /lib lists them")
    from agentlib.cli.render import render_module

    render_module(session.console, module)


def _search(session: Session, arg: str) -> None:
    if not arg.strip():
        session.say("usage: /search WHAT YOU ARE LOOKING FOR")
        return
    table = Table(title=f"nearest to {arg.strip()!r}")
    for column in ("distance", "name", "signature", "task"):
        table.add_column(column, overflow="fold")
    for module, distance in session.library().search(arg.strip(), 5):
        table.add_row(f"{distance:.3f}", module.name, module.signature, module.task_prompt[:80])
    session.console.print(table)


def _insights(session: Session, arg: str) -> None:
    insights = session.library().insights.list()
    if not insights:
        session.say("no insights yet: they are learned from failures that were later fixed")
        return
    table = Table(title=f"{len(insights)} insight(s)")
    for column in ("taxonomy", "condition", "explanation", "retrieved", "helped", "misled"):
        table.add_column(column, overflow="fold")
    for i in insights:
        table.add_row(i.taxonomy, i.condition, i.explanation, str(i.retrieved), str(i.helped),
                      str(i.misled))
    session.console.print(table)


def _trace(session: Session, arg: str) -> None:
    if session.last_result is None:
        session.say("nothing solved in this session yet")
        return
    from agentlib.cli.render import trace_table

    session.console.print(trace_table(session.last_result))


def _refactor(session: Session, arg: str) -> None:
    words = arg.split()
    dry_run = "--dry-run" in words
    rest = [w for w in words if w != "--dry-run"]
    if len(rest) > 1 or (rest and not rest[0].isdigit()):
        session.say("usage: /refactor [--dry-run] [BUDGET] (BUDGET: clusters to try, one LLM "
                    "call each; default 3)")
        return
    from agentlib.cli.refactor import show_report
    from agentlib.cli.repl_loading import ReplLLM
    from agentlib.refactor.run import refactor_library

    library = session.library()
    with session.console.status("refactoring the library…", spinner="dots"):
        report = refactor_library(library, ReplLLM(session), budget=int(rest[0]) if rest else 3,
                                  dry_run=dry_run)
    show_report(session.console, report)
    session.module_names = sorted(m.name for m in library.list())


def _model(session: Session, arg: str) -> None:
    choice = arg.strip()
    if not choice:
        session.describe_model()
        return
    backends = session.runtime.backends("llm")
    backend, _, model = choice.partition(":") if ":" in choice else ("", "", choice)
    if not backend and choice in backends:
        backend, model = choice, ""
    if backend and backend not in backends:
        raise UsageError(f"unknown LLM backend {backend!r}; available: "
                         f"{', '.join(sorted(backends))}")
    session.switch_model(backend or session.settings.llm, model or session.settings.model)


def _export(session: Session, arg: str) -> None:
    if not arg.strip():
        session.say("usage: /export FILE.jsonl")
        return
    from agentlib.cli.lib import check_output_file
    from agentlib.library.portable import export_jsonl

    path = Path(arg.strip()).expanduser()
    check_output_file(path)
    session.say(f"exported {export_jsonl(session.library(), path)} record(s) to {path}")


def _help(session: Session, arg: str) -> None:
    table = Table(show_header=False, box=None, title="commands")
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for name, command in session.commands.items():
        table.add_row(f"/{name} {command.usage}".rstrip(), command.help)
    session.console.print(table)
    session.console.print(INPUT_HELP, highlight=False)


def _quit(session: Session, arg: str) -> None:
    raise QuitRepl


INPUT_HELP = (
    "[bold]A task[/]: type its description, then one test per line "
    "([cyan]assert f(2) == 4[/]), then an [bold]empty line[/] to solve it "
    "(Alt-Enter solves at once).\n"
    "Tab completes commands and module names · ↑ recalls history · "
    "Ctrl-C cancels a running task · Ctrl-D quits.")


def builtin_commands() -> dict[str, Command]:
    """Return the built-in command table (a fresh dict the caller may extend)."""
    return {
        "solve": Command(_solve, "Solve the current task (again, e.g. after /test).", "[TASK]"),
        "test": Command(_test, "Add a test to the current task.", "assert …"),
        "lib": Command(_lib, "List the library's active modules."),
        "show": Command(_show, "Show a module: code, tests, provenance.", "NAME", "modules"),
        "search": Command(_search, "Find modules by meaning.", "QUERY"),
        "insights": Command(_insights, "List the lessons learned from failures."),
        "trace": Command(_trace, "Show the last run's decisions, node by node."),
        "refactor": Command(_refactor, "Extract shared helpers from similar modules; keep "
                                       "only verified refactors.", "[--dry-run] [BUDGET]"),
        "model": Command(_model, "Show or switch the LLM: BACKEND, MODEL or BACKEND:MODEL.",
                         "[NAME]", "models"),
        "export": Command(_export, "Export the library to a JSONL file.", "FILE", "paths"),
        "help": Command(_help, "List the commands and how to type a task."),
        "quit": Command(_quit, "Leave (Ctrl-D does too); nothing stored is lost."),
    }


def add_plugin_commands(table: dict[str, Command], pm) -> list[str]:
    """Add the commands plugins register (`register_repl_commands`); return what was refused.

    A plugin command never replaces a built-in one: it is left out and the reason returned.
    """
    from agentlib.plugins import repl_commands

    refused = []
    for name, command in repl_commands(pm).items():
        if name in table:
            refused.append(f"plugin {command.plugin} registers /{name}, which agentlib "
                           "already has; it is left out")
            continue
        table[name] = Command(command.handler, command.help or f"(from {command.plugin})",
                              plugin=command.plugin)
    return refused
