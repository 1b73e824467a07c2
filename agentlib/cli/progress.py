"""The status line of a single `agentlib solve` on stderr: what runs now, attempt k/N, the
tokens streamed so far and the time taken; nothing when stderr is not a terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

# What the graph does after each node (the router decides; these are its usual next steps).
AFTER = {"retrieve": "trying library modules", "try_reuse": "asking the model",
         "generate": "validating in the sandbox", "repair": "validating in the sandbox",
         "retry": "validating in the sandbox", "restart": "validating in the sandbox",
         "store": "storing", "reflect": "learning from the failures", "finish": "done"}


class SolveProgress:
    """Show the solve's progress from the graph's node events and the streamed tokens."""

    def __init__(self, console: Console, max_attempts: int, enabled: bool = True) -> None:
        self.console = console
        self.max_attempts = max_attempts
        self.enabled = enabled and console.is_terminal
        self.activity = "looking in the library"
        self.last = ""
        self.attempts = 0
        self.tokens = 0
        self._progress: Progress | None = None
        self._bar: Any = None

    def __enter__(self) -> "SolveProgress":
        if self.enabled:
            self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                      TimeElapsedColumn(), console=self.console,
                                      transient=True)
            self._progress.start()
            self._bar = self._progress.add_task(self.describe(), total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def describe(self) -> str:
        """The status text, e.g. `generating · attempt 2/6 · 143 tokens · after validate: failed`."""
        parts = [self.activity]
        if self.attempts or self.activity.startswith(("asking", "generating", "validating",
                                                      "repairing")):
            parts.append(f"attempt {min(self.attempts + 1, self.max_attempts)}/"
                         f"{self.max_attempts}")
        if self.tokens:
            parts.append(f"{self.tokens} tokens")
        if self.last:
            parts.append(f"after {self.last}")
        return escape(" · ".join(parts))

    def on_step(self, node: str, update: dict[str, Any]) -> None:
        """Take the update a graph node returned."""
        from agentlib.agent.views import asked_line, attempt_lines

        attempts = update.get("attempts") or []
        self.attempts += sum(1 for a in attempts if a.kind != "reuse")
        lines = [line for a in attempts for line in attempt_lines(a)]
        if update.get("pending") is not None:  # an asking node: the candidate, not yet run
            lines.append(asked_line(update["pending"]))
        lines += update.get("steps") or []
        self.last = f"{lines[-1].node}: {lines[-1].decision}" if lines else node
        if node == "validate":
            self.activity = "storing" if attempts and attempts[-1].passed else "repairing"
        else:
            self.activity = AFTER.get(node, node)
        self._refresh(now=True)  # every step is drawn, however quickly the next one comes

    def on_token(self, piece: str) -> None:
        """Count one streamed piece of the model's answer."""
        self.tokens += 1
        if not self.activity.startswith("generating"):
            self.activity = "generating"
        self._refresh()

    def _refresh(self, now: bool = False) -> None:
        if self._progress is not None:
            self._progress.update(self._bar, description=self.describe(), refresh=now)
