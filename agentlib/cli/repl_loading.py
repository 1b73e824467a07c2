"""The REPL's background loading: the library and the model become ready in daemon threads
while the prompt is already usable."""

from __future__ import annotations

import threading
from typing import Any, Callable

from rich.console import Console


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
    """The session's LLM: waits for the background load, streams tokens to the screen.

    `session` is the `ReplSession`: its `llm_loader`, `console`, `status`, `settings` and
    its generation callbacks (`stream_token`, `begin_generation`, `end_generation`).
    """

    def __init__(self, session: Any) -> None:
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
