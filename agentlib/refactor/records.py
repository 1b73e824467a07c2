"""Typed records of refactoring, dedup and pruning: what was proposed, checked and written."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Cluster:
    """Active modules that share a piece of code (by AST) and are near by embedding."""

    names: list[str]
    fragment: str
    """One occurrence of the shared code, as written in the first module."""
    fragment_size: int
    """AST nodes in the shared code: how much repeating it costs."""


@dataclass
class Proposal:
    """A helper function and the rewritten cluster modules that call it."""

    helper_name: str
    helper_source: str
    rewrites: dict[str, str]
    """Module name -> new source (only modules whose rewrite calls the helper)."""
    reply: str = ""


@dataclass
class Check:
    """One sandbox run made while verifying a proposal."""

    module: str
    role: str  # "rewrite" | "dependent" | "helper"
    tests_run: int
    tests_passed: int
    failure: str = ""


@dataclass
class ClusterOutcome:
    """What happened to one cluster: proposal, verification, commit."""

    cluster: Cluster
    accepted: bool
    reason: str
    proposal: Proposal | None = None
    checks: list[Check] = field(default_factory=list)
    helper_tests: list[str] = field(default_factory=list)
    lines_before: int = 0
    lines_after: int = 0
    committed: bool = False

    @property
    def tests_run(self) -> int:
        return sum(c.tests_run for c in self.checks)

    @property
    def tests_passed(self) -> int:
        return sum(c.tests_passed for c in self.checks)


@dataclass
class RefactorReport:
    """The end of `agentlib refactor`: modules touched, helpers, lines, tests."""

    dry_run: bool
    outcomes: list[ClusterOutcome] = field(default_factory=list)
    lines_before: int = 0
    lines_after: int = 0
    llm_calls: int = 0

    @property
    def modules_touched(self) -> list[str]:
        return sorted({name for o in self.outcomes if o.accepted and o.proposal
                       for name in o.proposal.rewrites})

    @property
    def helpers_created(self) -> list[str]:
        return [o.proposal.helper_name for o in self.outcomes
                if o.accepted and o.proposal and o.proposal.helper_name]

    @property
    def tests_run(self) -> int:
        return sum(o.tests_run for o in self.outcomes)

    @property
    def tests_passed(self) -> int:
        return sum(o.tests_passed for o in self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (`agentlib refactor --json`)."""
        outcomes = []
        for o in self.outcomes:
            d = asdict(o)
            d["tests_run"], d["tests_passed"] = o.tests_run, o.tests_passed
            outcomes.append(d)
        return {"dry_run": self.dry_run, "modules_touched": self.modules_touched,
                "helpers_created": self.helpers_created, "lines_before": self.lines_before,
                "lines_after": self.lines_after, "tests_run": self.tests_run,
                "tests_passed": self.tests_passed, "llm_calls": self.llm_calls,
                "clusters": outcomes}


@dataclass
class Merge:
    """Behavioural dedup of one group: the canonical module and its aliases."""

    canonical: str
    aliases: list[str]
    inputs_compared: int
    committed: bool = False
    reason: str = ""


@dataclass
class PruneDecision:
    """One module considered for pruning and why it was or was not pruned."""

    name: str
    module_id: str
    status: str
    pruned: bool
    reason: str


@dataclass
class Figures:
    """Size and health of a library: the numbers the closing note quotes."""

    modules: int
    lines: int
    modules_calling_helper: int
    """Active modules that call a helper `agentlib refactor` extracted."""
    modules_calling_library: int
    """Active modules that call any other library module."""
    tests_run: int
    tests_passed: int
    modules_failing: list[str] = field(default_factory=list)
