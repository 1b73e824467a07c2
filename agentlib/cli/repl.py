"""`agentlib repl`: an interactive session — type tasks, watch them solved, browse the library.

The prompt appears at once: the library and the model open in a background thread while the
bottom bar shows their state (`repl_loading`). A task runs in the main thread so that Ctrl-C
interrupts it wherever it is (a streamed generation stops at the next token; a sandbox run is
killed) and the prompt comes back; the library is only ever written whole, so nothing stored
is lost. Typed text becomes a task draft (`repl_draft`); the terminal's keys, completion and
history are in `repl_keys`; the slash commands are a table (`repl_commands`).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from agentlib.cli.errors import describe
from agentlib.cli.options import BaseURLOpt, LibraryOpt, LLMOpt, ModelOpt, make_settings
from agentlib.cli.repl_commands import (
    INPUT_HELP,
    Command,
    QuitRepl,
    add_plugin_commands,
    builtin_commands,
)
from agentlib.cli.repl_draft import Asker, TaskDraft, offer_tests, read_plain
from agentlib.cli.repl_loading import Background, ReplLLM
from agentlib.config import Settings
from agentlib.errors import AgentlibError, PluginError

if TYPE_CHECKING:
    from agentlib.runtime import Runtime

class ReplSession:
    """State of one REPL session, shared by the command handlers."""

    def __init__(self, runtime: "Runtime", console: Console, debug: bool = False) -> None:
        self.runtime = runtime
        self.settings: Settings = runtime.settings  # shared: /model switches change it
        self.console = console
        self.debug = debug
        self.commands: dict[str, Command] = builtin_commands()
        for refused in add_plugin_commands(self.commands, runtime.pm):
            console.print(f"[yellow]warning:[/] {escape(refused)}", highlight=False)
        self.draft: TaskDraft | None = None
        self.asker: Asker | None = None  # set in a terminal: tests are offered for checking
        self.last_result = None
        self.module_names: list[str] = []
        self._tasks_solved = 0
        self._agent = None
        self._streamed = False
        self.status = None
        self.library_loader = Background("the library", self._open_library).start()
        self.llm_loader = self._start_llm()

    # -- background loading (repl_loading) -----------------------------------------------
    def _open_library(self):
        library = self.runtime.library or self.runtime.open_library()
        self.module_names = sorted(m.name for m in library.list())
        library.embed("warm up")  # loads the embedding model now rather than at the first task
        return library

    def _start_llm(self) -> Background:
        settings = self.settings

        def load():
            llm = self.runtime.make_llm()
            load_now = getattr(llm, "load", None)  # local models load their weights here
            if callable(load_now):
                load_now()
            return llm

        return Background(f"the model ({settings.llm}:{settings.model})", load).start()

    def library(self):
        return self.library_loader.get(self.console)

    def toolbar(self) -> str:
        """The bottom bar: how to type a task, and the state of the model and library."""
        model = {"loading": "loading…", "ready": "ready", "failed": "unavailable (/model)"}
        lib = (f"{len(self.module_names)} module(s)" if self.library_loader.state == "ready"
               else {"loading": "opening…", "failed": "unavailable"}[self.library_loader.state])
        name = os.path.basename(self.settings.model) or self.settings.model  # short for paths
        return (f" empty line solves · Alt-⏎ solves now · /help · ^D quits"
                f" │ model {self.settings.llm}:{name} {model[self.llm_loader.state]}"
                f" │ library {lib}")

    # -- output -------------------------------------------------------------------------
    def say(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False)

    def stream_token(self, piece: str) -> None:
        if not self._streamed:
            if self.status is not None:
                self.status.stop()
            self._streamed = True
        self.console.print(piece, end="", style="dim", markup=False, highlight=False,
                           soft_wrap=True)

    def begin_generation(self, name: str) -> None:
        self._streamed = False
        if self.status is not None:
            self.status.update(f"generating with {name}…")

    def end_generation(self, finished: bool = True) -> None:
        if self._streamed:
            self.console.print()
            if finished and self.status is not None:
                self.status.start()
                self.status.update("validating in the sandbox…")

    def describe_model(self) -> None:
        from agentlib.llm.provision import MODELS, is_fetched

        state = self.llm_loader.state
        self.say(f"backend {self.settings.llm}, model {self.settings.model}: {state}")
        if self.llm_loader.error is not None:
            self.say(f"error: {self.llm_loader.error}")
        fetched = ", ".join(f"{name} ({'fetched' if is_fetched(name) else 'not fetched'})"
                            for name in MODELS)
        self.say(f"local models: {fetched}; switch with /model NAME or /model BACKEND:MODEL")

    # -- actions ------------------------------------------------------------------------
    def switch_model(self, backend: str, model: str) -> None:
        self.settings.llm = backend
        self.settings.model = model
        self.llm_loader = self._start_llm()
        self.say(f"switched to {backend}:{model}; loading in the background")

    def set_task(self, text: str) -> None:
        draft = TaskDraft.parse(text)
        if not draft.prompt and self.draft is not None and draft.tests:
            for test in draft.tests:
                self.draft.add_test(test)
            draft = self.draft
        if not draft.prompt:
            self.say("a task needs a description before its tests")
            return
        self.draft = draft
        if not draft.tests:
            offer_tests(self, draft)

    def propose(self, prompt: str, name: str | None):
        """Ask the model for tests of a task (`agentlib.agent.propose`), streamed to the screen."""
        from agentlib.agent.propose import ask_for_tests

        with self.console.status("proposing tests…", spinner="dots") as status:
            self.status = status
            try:
                return ask_for_tests(ReplLLM(self), prompt, name, self.stream_token)
            finally:
                self.status = None

    def solve_draft(self) -> None:
        from agentlib.agent import Agent
        from agentlib.agent.taskfile import parse_task
        from agentlib.cli.render import render_result, render_usage

        draft = self.draft
        assert draft is not None
        if not draft.tests:
            self.say("the task has no tests: add them with /test assert …")
            return
        self._tasks_solved += 1
        task = parse_task({"id": f"repl-{self._tasks_solved}", "prompt": draft.prompt,
                           "tests": draft.tests}, "your task")
        task.tests = [dataclasses.replace(t, origin="derived") if t.source in draft.derived
                      else t for t in task.tests]
        library = self.library() if self.settings.use_library else None
        if self._agent is None:  # settings are shared, and ReplLLM follows /model switches
            self._agent = Agent(self.runtime.derive(llm=ReplLLM(self)))
        with self.console.status("looking in the library…", spinner="dots") as status:
            self.status = status
            try:
                result = self._agent.solve(task, on_token=self.stream_token)
            finally:
                self.status = None
        self.last_result = result
        render_result(self.console, result)
        module = library.get_by_id(result.module_id) if library and result.module_id else None
        render_usage(self.console, result, module)
        if library is not None:
            self.module_names = sorted(m.name for m in library.list())

    def handle(self, text: str) -> None:
        """Run one entry: a slash command, or a task (its description and tests)."""
        text = text.strip()
        if not text:
            return
        if text.startswith("/"):
            name, _, arg = text[1:].partition(" ")
            command = self.commands.get(name) or self.commands.get(ALIASES.get(name, ""))
            if command is None:
                self.say(f"unknown command /{name}; /help lists them")
                return
            try:
                shown = command.handler(self, arg)
            except (AgentlibError, KeyboardInterrupt, QuitRepl):
                raise
            except Exception as exc:
                if not command.plugin:
                    raise
                raise PluginError(f"/{name} (plugin {command.plugin}) raised "
                                  f"{type(exc).__name__}: {exc}") from exc
            if shown is not None:
                self.console.print(shown)
            return
        self.set_task(text)
        if self.draft is not None and self.draft.tests:
            self.solve_draft()


ALIASES = {"exit": "quit", "q": "quit", "?": "help", "ls": "lib"}


def run_entry(session: ReplSession, text: str) -> bool:
    """Run one entry, reporting what went wrong; False when the session should end."""
    console = session.console
    try:
        session.handle(text)
    except QuitRepl:
        return False
    except KeyboardInterrupt:
        console.print("\n[yellow]cancelled[/] — back at the prompt; nothing stored was lost",
                      highlight=False)
    except (AgentlibError, OSError) as exc:  # one line, as on the command line
        message, _ = describe(exc)
        console.print(f"[bold red]error:[/] {escape(' '.join(message.split()))}",
                      highlight=False, soft_wrap=True)
    except Exception as exc:  # our bug: keep the session, say so
        if session.debug or os.environ.get("AGENTLIB_DEBUG"):
            console.print_exception()
        else:
            console.print(f"[bold red]internal error:[/] {escape(f'{type(exc).__name__}: {exc}')}"
                          " (agentlib --debug repl shows the traceback)", highlight=False)
    return True


def run_repl(settings: Settings, debug: bool = False) -> None:
    """Read entries and run them until /quit or Ctrl-D."""
    from agentlib import __version__

    # Ctrl-C cancels generation and sandbox runs; a parent that started us in the background
    # may have left SIGINT ignored (as shells do for `&` jobs), which would make it do nothing.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    from agentlib.cli.options import make_runtime
    from agentlib.cli.repl_keys import prompt_session

    console = Console()
    session = ReplSession(make_runtime(settings), console, debug)
    interactive = sys.stdin.isatty()
    console.print(f"[bold]agentlib {__version__}[/] · library {settings.store} · "
                  f"model {settings.llm}:{settings.model} (loading in the background)",
                  highlight=False)
    console.print(INPUT_HELP, highlight=False)
    prompt = prompt_session(session) if interactive else None
    if prompt is not None:
        from prompt_toolkit import PromptSession

        choice = PromptSession()
        session.asker = Asker(choose=choice.prompt,
                              edit=lambda text: prompt.prompt("agentlib› ", default=text))
    while True:
        try:
            text = prompt.prompt("agentlib› ") if prompt is not None else read_plain()
        except KeyboardInterrupt:  # at the prompt: drop the line, like a shell
            continue
        except EOFError:
            break
        try:
            if not run_entry(session, text):
                break
        except KeyboardInterrupt:  # a second Ctrl-C while the first was being reported
            continue
    console.print("bye")


def repl(
    library: LibraryOpt = None,
    llm: LLMOpt = None,
    model: ModelOpt = None,
    base_url: BaseURLOpt = None,
    attempts: Annotated[Optional[int], typer.Option(
        min=1, help="Generate + repair attempts per task.")] = None,
) -> None:
    """Interactive session: type a task and its tests, browse the library, /help for more.

    Also started by `agentlib` with no arguments in a terminal.
    """
    settings = make_settings(library, llm, model, base_url)
    if attempts is not None:
        settings.attempts = attempts
    run_repl(settings, debug=bool(os.environ.get("AGENTLIB_DEBUG")))
