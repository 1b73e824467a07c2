"""Plain typed records shared by every layer: tasks, tests, verdicts, modules, results."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Decision = Literal["reused", "created", "repaired", "failed"]
Ended = Literal["ok", "timeout", "memory", "crashed", "killed", "isolation-error"]
TestOrigin = Literal["given", "derived", "proposed"]
RejectionKind = Literal["unparseable", "rewrites_library", "arity", "special_cased", "validator"]
"""Why a candidate was refused before (or despite) its tests: the reply holds no usable
function; it only rewrites a library function; no function it defines takes the tests'
arguments; it special-cases the test inputs; a validator plugin rejected it."""


@dataclass(frozen=True)
class TestCase:
    """One executable check: a Python `assert` statement."""

    source: str
    setup: str = ""
    origin: TestOrigin = "given"
    """given: written as a test; derived: read from an example in the task's text;
    proposed: suggested by the model."""


@dataclass
class Task:
    """A description plus the tests a solution must pass."""

    prompt: str
    tests: list[TestCase]
    id: str = ""
    entry_point: str | None = None
    hidden_tests: list[TestCase] = field(default_factory=list)
    """Tests the agent never sees; only benchmarks score them."""

    @classmethod
    def from_asserts(
        cls, prompt: str, asserts: list[str], *, id: str = "", entry_point: str | None = None,
        setup: str = "",
    ) -> "Task":
        """Build a task from plain `assert …` strings."""
        return cls(prompt=prompt, tests=[TestCase(a, setup) for a in asserts], id=id,
                   entry_point=entry_point)


@dataclass
class TestResult:
    """The outcome of one test case in the sandbox."""

    test: str
    passed: bool
    error_type: str | None = None
    message: str = ""
    stdout: str = ""
    stderr: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_memory_mb: float = 0.0


@dataclass
class Verdict:
    """Everything the sandbox learned from one run of a program against its tests."""

    results: list[TestResult]
    ended: Ended = "ok"
    detail: str = ""
    wall_s: float = 0.0
    isolation: str = ""

    @property
    def passed(self) -> bool:
        return self.ended == "ok" and bool(self.results) and all(r.passed for r in self.results)

    @property
    def failures(self) -> list[TestResult]:
        return [r for r in self.results if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passed"] = self.passed
        return d


@dataclass
class Module:
    """A verified library function and what is known about it."""

    id: str
    name: str
    source: str
    signature: str
    docstring: str
    tests: list[str]
    dependencies: list[str] = field(default_factory=list)
    task_prompt: str = ""
    task_id: str = ""
    backend: str = ""
    model: str = ""
    created_at: float = 0.0
    version: int = 1
    status: Literal["active", "superseded", "pruned"] = "active"
    times_retrieved: int = 0
    times_reused: int = 0
    times_failed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Insight:
    """A lesson learned from a failure (AlphaOPT-style)."""

    id: str
    taxonomy: str
    condition: str
    explanation: str
    example: str = ""
    retrieved: int = 0
    helped: int = 0
    misled: int = 0
    merged_from: list[str] = field(default_factory=list)
    refined_from: str | None = None
    helped_on: list[str] = field(default_factory=list)
    """Search texts of the latest tasks it helped (evolution replays retrieval on them)."""
    misled_on: list[str] = field(default_factory=list)
    """Search texts of the latest tasks it misled."""


@dataclass
class Attempt:
    """One candidate the agent tried and what the sandbox said of it."""

    source: str
    verdict: Verdict | None
    origin: Literal["reuse", "generate", "repair", "retry"]  # retry: the task as without a library
    module_id: str | None = None
    extract_error: str | None = None


@dataclass
class TraceStep:
    """One decision of the agent graph, for `--trace`."""

    node: str
    decision: str
    detail: str = ""
    wall_s: float = 0.0
    tokens: int = 0


@dataclass
class SolveResult:
    """The outcome of solving one task; one line of a results file."""

    id: str
    status: Literal["solved", "failed", "error"]
    decision: Decision | None
    entry_point: str | None
    program: str
    module_id: str | None
    attempts: int
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    wall_s: float
    error: str | None = None
    verdict: Verdict | None = None
    trace: list[TraceStep] = field(default_factory=list)
    modules_used: list[str] = field(default_factory=list)
    """Library modules the program calls (or the one reused)."""
    insights_used: list[str] = field(default_factory=list)
    """Ids of the insights shown to the model."""

    def to_record(self) -> dict[str, Any]:
        """Return the JSON-serialisable result record (one JSONL line)."""
        d = asdict(self)
        d["verdict"] = self.verdict.to_dict() if self.verdict else None
        return d
