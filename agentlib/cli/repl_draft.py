"""What the user types into the REPL: a task draft (description and tests), read as entries."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field


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


def read_plain() -> str:
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
