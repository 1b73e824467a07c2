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
    times_shown: int = 0
    """Solves whose first LLM attempt had it in the prompt."""
    times_shown_passed: int = 0
    """Of those, the first attempts that passed the task's tests."""
    times_shown_failed: int = 0
    """Of those, the first attempts that failed (or were rejected)."""
    times_shown_called: int = 0
    """Of those, the first attempts whose candidate called it."""
    verification: dict[str, Any] = field(default_factory=dict)
    """How it was verified (`agentlib.verify.Verification.to_dict()`: tests passed, generated
    inputs agreed with an independent implementation, checks run, warnings, status
    `confirmed` | `unconfirmed`); empty for a module stored before this was recorded."""

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


AttemptKind = Literal["reuse", "generate", "repair", "retry", "restart", "counterexample"]
"""How an iteration's candidate came to be: a stored module reused; the first answer; a
repair in the same conversation; the task asked again as without a library (greedy); a fresh
start from the task and its failing cases (sampled); a repair shown an input on which an
independent implementation disagreed with a candidate that passed its tests."""


@dataclass(frozen=True)
class Check:
    """What one check concluded about a candidate that already passed its tests.

    ``reject`` is set only when the check has evidence that the candidate is wrong or
    special-cases its tests; it is shown to the model as feedback. Anything the check is unsure
    about goes into ``warnings``: recorded in the trace and on the module, never a rejection.
    """

    name: str
    reject: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def rejected(self) -> bool:
        return self.reject is not None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reject": self.reject, "warnings": list(self.warnings)}


@dataclass
class Reply:
    """One LLM completion: its text and what it cost."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0


@dataclass
class Rejection:
    """Why a candidate was refused before (or despite) its tests; the reason is fed back."""

    kind: RejectionKind
    reason: str


@dataclass
class Hit:
    """A library module retrieval found, and its cosine distance to the task."""

    module: Module
    distance: float


@dataclass
class Fallback:
    """The model's own copies of library functions, kept as a second candidate."""

    candidate: str
    dependencies: list[str]
    program: str


@dataclass
class Attempt:
    """One iteration of the agent: what was asked, what came back, what ran, the judgement.

    The trace, the result's counters and its error are read from these records.
    """

    kind: AttemptKind
    candidate: str = ""
    """The candidate function's own source ("" when the reply held none)."""
    dependencies: list[str] = field(default_factory=list)
    """The library modules the candidate calls."""
    program: str = ""
    """What ran in the sandbox: the candidate preceded by its dependencies' sources."""
    verdict: Verdict | None = None
    rejection: Rejection | None = None
    messages: list[dict[str, str]] = field(default_factory=list)
    """The conversation sent to the model (empty for reuse)."""
    reply: Reply | None = None
    temperature: float | None = None
    """Sampling temperature of the request (None: greedy, the backend's default)."""
    seed: int | None = None
    modules_shown: list[str] = field(default_factory=list)
    """Library modules the prompt showed (names), nearest first."""
    code_shown: str | None = None
    """The module whose code the prompt showed, if any."""
    lessons_shown: list[str] = field(default_factory=list)
    """Ids of the insights the prompt showed."""
    notes: list[str] = field(default_factory=list)
    """What was done to the reply (renamed, unshadowed) or to the reused module."""
    fallback: Fallback | None = None
    """Tried when the candidate fails (validate drops it from the recorded attempt)."""
    module_id: str | None = None
    """For reuse: the id of the module reused."""
    module: str | None = None
    """For reuse: the name of the module reused."""
    asked_s: float = 0.0
    """Wall time of asking: the LLM call and extraction (reuse: the sandbox runs)."""
    validated_s: float = 0.0
    """Wall time of validation (sandbox runs, static check, validators)."""
    checks: list[Check] = field(default_factory=list)
    """The checks run on the candidate after it passed its tests, with their warnings."""

    @property
    def passed(self) -> bool:
        """The candidate passed every test and nothing rejected it."""
        return self.rejection is None and self.verdict is not None and self.verdict.passed

    @property
    def warnings(self) -> list[str]:
        """What the checks were unsure of ("check: warning"); never a rejection."""
        return [f"{c.name}: {w}" for c in self.checks for w in c.warnings]

    @property
    def asked_llm(self) -> bool:
        return self.reply is not None


@dataclass
class TraceStep:
    """One decision of the agent graph, for `--trace`."""

    node: str
    decision: str
    detail: str = ""
    wall_s: float = 0.0
    tokens: int = 0
    after: int = 0
    """How many attempts came before it (orders node steps among the attempts' lines)."""


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
    warnings: list[str] = field(default_factory=list)
    """What to know before trusting it: the tests were proposed by the model (and which were
    dropped), or the module reused is unconfirmed."""
    calls_by_kind: dict[str, int] = field(default_factory=dict)
    """`llm_calls` by what asked for them (`agent.state.calls_by_kind`)."""

    def to_record(self) -> dict[str, Any]:
        """Return the JSON-serialisable result record (one JSONL line)."""
        d = asdict(self)
        d["verdict"] = self.verdict.to_dict() if self.verdict else None
        return d
