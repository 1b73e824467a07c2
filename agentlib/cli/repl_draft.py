"""What the user types into the REPL: a task draft (description and tests), read as entries,
and the offer of tests for a task typed without any (`offer_tests`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable

CHOICES = "Enter solves with them · e edits them · d drops them › "


@dataclass
class TaskDraft:
    """The task being written: a description and its tests."""

    prompt: str
    tests: list[str] = field(default_factory=list)
    derived: set[str] = field(default_factory=set)
    """The tests read from the description (`agentlib.agent.examples`) and kept as they are."""

    @classmethod
    def parse(cls, text: str) -> "TaskDraft":
        """Split typed text: lines that start with `assert` are tests, the rest describe."""
        description, tests = [], []
        for line in text.strip().splitlines():
            (tests if line.strip().startswith("assert") else description).append(line.rstrip())
        return cls(prompt="\n".join(description).strip(), tests=[t.strip() for t in tests])

    def add_test(self, test: str) -> None:
        self.tests.append(test)


@dataclass
class Asker:
    """How the REPL asks the user in a terminal: a one-line choice, and an edit of some text."""

    choose: Callable[[str], str]
    edit: Callable[[str], str]
    """Show the text for editing; return it as submitted."""


def offer_tests(session: Any, draft: TaskDraft) -> None:
    """Offer tests for a draft that has none, and keep those the user accepts.

    The examples in its description become tests (marked derived); without any, the model
    proposes some (marked proposed; `agentlib.agent.propose`). In a terminal (`session.asker`)
    the user accepts them (Enter), edits them, or drops them; tests accepted or edited are the
    user's own (given) from then on, derived ones stay derived. Without a terminal, derived
    tests are used as they are and nothing is proposed (no one could check it).
    """
    from agentlib.agent.examples import derived_tests, task_function

    derived = [t.source for t in derived_tests(draft.prompt)]
    asker = session.asker
    if derived:
        origin, tests = "derived", derived
        session.say(f"{len(tests)} test(s) derived from the text:")
    elif asker is not None and session.settings.propose_tests:
        proposal = session.propose(draft.prompt, task_function(draft.prompt))
        if not proposal.tests:
            session.say("the model proposed no usable test: add them with /test assert …, "
                        "then /solve")
            return
        origin, tests = "proposed", [t.source for t in proposal.tests]
        session.say(f"{len(tests)} test(s) proposed by the model (check them):")
    else:
        session.say("no tests yet: add them with /test assert …, then /solve")
        return
    for test in tests:
        session.say(f"  {test}    ({origin})")
    if asker is None:
        draft.tests, draft.derived = list(tests), set(tests)
        return
    try:
        choice = asker.choose(CHOICES).strip().lower()
        if choice in ("", "y", "yes", "a"):
            draft.tests = list(tests)
            draft.derived = set(tests) if origin == "derived" else set()
        elif choice in ("e", "edit"):
            edited = TaskDraft.parse(asker.edit("\n".join(tests))).tests
            draft.tests, draft.derived = edited, {t for t in edited if t in derived}
            if not edited:
                session.say("no tests left: add them with /test assert …, then /solve")
        else:
            session.say("dropped: add tests with /test assert …, then /solve")
    except EOFError:  # Ctrl-D at the question: the tests are dropped, the session goes on
        session.say("dropped: add tests with /test assert …, then /solve")


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
