"""The REPL's terminal: prompt_toolkit key bindings, tab completion and history."""

from __future__ import annotations

from typing import Any

from agentlib.config import agentlib_home

HISTORY_FILE = "repl_history"


def completer(session: Any):
    """Tab completion: command names, then each command's argument (modules, models, paths).

    `session` needs `commands`, `module_names` and `runtime` (for the LLM backends).
    """
    from prompt_toolkit.completion import Completer, Completion, PathCompleter
    from prompt_toolkit.document import Document

    paths = PathCompleter(expanduser=True)

    def words(kind: str) -> list[str]:
        if kind == "modules":
            return session.module_names
        from agentlib.llm.provision import MODELS

        return sorted(session.runtime.backends("llm")) + list(MODELS)

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


def prompt_session(session: Any):
    """A prompt_toolkit session: history in the agentlib home, completion, multi-line tasks.

    Enter adds a line to a task and solves it on an empty line (or at once for a command);
    Alt-Enter solves at once.
    """
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
        history=FileHistory(str(home / HISTORY_FILE)), completer=completer(session),
        complete_while_typing=False, multiline=True, key_bindings=bindings,
        prompt_continuation=lambda width, line, wrap: "test› ".rjust(width),
        bottom_toolbar=session.toolbar, refresh_interval=0.5)
