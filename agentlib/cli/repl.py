"""`agentlib repl`: an interactive session — type tasks, watch them solved, browse the library.

The prompt appears at once: the library and the model open in a background thread while the
bottom bar shows their state. A task runs in the main thread so that Ctrl-C interrupts it
wherever it is (a streamed generation stops at the next token; a sandbox run is killed) and
the prompt comes back; the library is only ever written whole, so nothing stored is lost.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Optional

import typer
from rich.console import Console
from rich.markup import escape

from agentlib.cli.options import BaseURLOpt, LibraryOpt, LLMOpt, ModelOpt, make_settings
from agentlib.cli.repl_commands import (
    INPUT_HELP,
    Command,
    QuitRepl,
    add_plugin_commands,
    builtin_commands,
)
from agentlib.config import Settings, agentlib_home
from agentlib.errors import AgentlibError, PluginError

HISTORY_FILE = "repl_history"


@dataclass
class TaskDraft:
    """The task being written: a description and its tests."""

    prompt: str
    tests: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> "TaskDraft":
        """Split typed text: lines that start with `assert` are tests, the rest describe."""
        description, tests = [], []
        for line in text.strip().splitlines():
            (tests if line.strip().startswith("assert") else description).append(line.rstrip())
        return cls(prompt="\n".join(description).strip(), tests=[t.strip() for t in tests])

    def add_test(self, test: str) -> None:
        self.tests.append(test)


class Background:
    """Something slow (the library, the model) made ready in a daemon thread."""

    def __init__(self, what: str, make: Callable[[], Any]) -> None:
        self.what = what
        self.state = "loading"
        self.value: Any = None
        self.error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(make,), daemon=True,
                                        name=f"load {what}")

    def start(self) -> "Background":
        self._thread.start()
        return self

    def _run(self, make: Callable[[], Any]) -> None:
        try:
            self.value = make()
            self.state = "ready"
        except BaseException as exc:  # noqa: B036 - reported to the user when they need it
            self.error = exc
            self.state = "failed"
        finally:
            self._done.set()

    def get(self, console: Console, status: Any = None) -> Any:
        """Wait (with a visible status) until ready; raise what loading raised."""
        if not self._done.is_set():
            if status is not None:  # a status line is already showing: reuse it
                status.update(f"loading {self.what}…")
                self._done.wait()
            else:
                with console.status(f"loading {self.what}…", spinner="dots"):
                    self._done.wait()
        if self.error is not None:
            raise self.error
        return self.value


class ReplLLM:
    """The session's LLM: waits for the background load, streams tokens to the screen."""

    def __init__(self, session: "ReplSession") -> None:
        self.session = session

    @property
    def name(self) -> str:
        loaded = self.session.llm_loader
        return loaded.value.name if loaded.state == "ready" else self.session.settings.llm

    def complete(self, messages, **options):
        session = self.session
        inner = session.llm_loader.get(session.console, session.status)
        if options.get("on_token") is None:
            options["on_token"] = session.stream_token
        session.begin_generation(inner.name)
        try:
            completion = inner.complete(messages, **options)
        except BaseException:  # noqa: B036 - Ctrl-C too: end the streamed line, then re-raise
            session.end_generation(finished=False)
            raise
        session.end_generation()
        return completion


class ReplSession:
    """State of one REPL session, shared by the command handlers."""

    def __init__(self, settings: Settings, console: Console, debug: bool = False,
                 pm: Any = None) -> None:
        from agentlib.plugins import make_plugin_manager

        self.settings = settings
        self.console = console
        self.debug = debug
        self.pm = pm or make_plugin_manager()
        self.commands: dict[str, Command] = builtin_commands()
        for refused in add_plugin_commands(self.commands, self.pm):
            console.print(f"[yellow]warning:[/] {escape(refused)}", highlight=False)
        self.draft: TaskDraft | None = None
        self.last_result = None
        self.module_names: list[str] = []
        self._tasks_solved = 0
        self._agent = None
        self._streamed = False
        self.status = None
        self.library_loader = Background("the library", self._open_library).start()
        self.llm_loader = self._start_llm()

    # -- background loading -------------------------------------------------------------
    def _open_library(self):
        from agentlib.library import open_library

        library = open_library(self.settings, self.pm)
        self.module_names = sorted(m.name for m in library.list())
        library.embed("warm up")  # loads the embedding model now rather than at the first task
        return library

    def _start_llm(self) -> Background:
        settings = self.settings

        def load():
            from agentlib.plugins import llm_factories

            factories = llm_factories(self.pm)
            if settings.llm not in factories:
                raise AgentlibError(f"unknown LLM backend {settings.llm!r}; available: "
                                    f"{', '.join(sorted(factories))}")
            llm = factories[settings.llm](settings)
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
            self.say("no tests yet: add them with /test assert …, then /solve")

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
        library = self.library() if self.settings.use_library else None
        if self._agent is None:  # settings are shared, and ReplLLM follows /model switches
            self._agent = Agent(self.settings, llm=ReplLLM(self), library=library, pm=self.pm)
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


def _completer(session: ReplSession):
    """Tab completion: command names, then each command's argument (modules, models, paths)."""
    from prompt_toolkit.completion import Completer, Completion, PathCompleter
    from prompt_toolkit.document import Document

    paths = PathCompleter(expanduser=True)

    def words(kind: str) -> list[str]:
        if kind == "modules":
            return session.module_names
        from agentlib.llm.provision import MODELS
        from agentlib.plugins import llm_factories

        return sorted(llm_factories(session.pm)) + list(MODELS)

    class ReplCompleter(Completer):
        def get_completions(self, document: Document, complete_event):
            text = document.text_before_cursor
            if not text.startswith("/") or "\n" in text:
                return
            name, space, arg = text[1:].partition(" ")
            if not space:
                for command, row in session.commands.items():
                    if command.startswith(name):
                        yield Completion("/" + command, start_position=-len(text),
                                         display_meta=row.help)
                return
            row = session.commands.get(name)
            if row is None or not row.completes:
                return
            if row.completes == "paths":
                yield from paths.get_completions(Document(arg, len(arg)), complete_event)
                return
            for word in words(row.completes):
                if word.startswith(arg.strip()):
                    yield Completion(word, start_position=-len(arg.strip()))

    return ReplCompleter()


def _prompt_session(session: ReplSession):
    """A prompt_toolkit session: history in the agentlib home, completion, multi-line tasks."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.key_binding import KeyBindings

    home = agentlib_home()
    home.mkdir(parents=True, exist_ok=True)
    bindings = KeyBindings()

    @bindings.add("enter")
    def _enter(event) -> None:
        buffer = event.current_buffer
        document = buffer.document
        text = buffer.text
        if buffer.complete_state is not None and buffer.complete_state.current_completion:
            buffer.apply_completion(buffer.complete_state.current_completion)
            return
        finished = (not text.strip() or text.lstrip().startswith("/")
                    or (document.is_cursor_at_the_end and not document.current_line.strip()))
        if finished:
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    @bindings.add("escape", "enter")
    def _submit(event) -> None:
        event.current_buffer.validate_and_handle()

    return PromptSession(
        history=FileHistory(str(home / HISTORY_FILE)), completer=_completer(session),
        complete_while_typing=False, multiline=True, key_bindings=bindings,
        prompt_continuation=lambda width, line, wrap: "test› ".rjust(width),
        bottom_toolbar=session.toolbar, refresh_interval=0.5)


def _read_plain() -> str:
    """Read one entry from a non-terminal stdin: a command line, or a task up to a blank line."""
    lines: list[str] = []
    while True:
        line = sys.stdin.readline()
        if not line:
            if lines:
                return "\n".join(lines)
            raise EOFError
        line = line.rstrip("\n")
        if not lines and (line.lstrip().startswith("/") or not line.strip()):
            return line
        if not line.strip():
            return "\n".join(lines)
        lines.append(line)


def _run_entry(session: ReplSession, text: str) -> bool:
    """Run one entry, reporting what went wrong; False when the session should end."""
    console = session.console
    try:
        session.handle(text)
    except QuitRepl:
        return False
    except KeyboardInterrupt:
        console.print("\n[yellow]cancelled[/] — back at the prompt; nothing stored was lost",
                      highlight=False)
    except AgentlibError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
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
    console = Console()
    session = ReplSession(settings, console, debug)
    interactive = sys.stdin.isatty()
    console.print(f"[bold]agentlib {__version__}[/] · library {settings.store} · "
                  f"model {settings.llm}:{settings.model} (loading in the background)",
                  highlight=False)
    console.print(INPUT_HELP, highlight=False)
    prompt = _prompt_session(session) if interactive else None
    while True:
        try:
            text = prompt.prompt("agentlib› ") if prompt is not None else _read_plain()
        except KeyboardInterrupt:  # at the prompt: drop the line, like a shell
            continue
        except EOFError:
            break
        try:
            if not _run_entry(session, text):
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
