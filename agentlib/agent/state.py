"""The graph's state: what a solve keeps, and what is read from it (never stored twice).

Nodes return partial updates; `attempts` and `steps` accumulate through their reducers.
Everything else a caller wants — solved or not, the program, the counters, the trace — is
derived from the attempts by the functions below.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, TypedDict

from agentlib.model import Attempt, Hit, Insight, Module, Reply, Task, TraceStep
from agentlib.verify.evidence import Evidence


@dataclass
class CrossCheck:
    """The evidence step (`agent.cross_check`): one independent implementation, asked once per
    task, run next to the candidate on generated in-domain inputs."""

    messages: list[dict[str, str]] = field(default_factory=list)
    reply: Reply | None = None
    """The independent implementation's completion (None: no call was made)."""
    temperature: float | None = None
    seed: int | None = None
    reference: str = ""
    """The independent implementation ("" when the reply held no usable function)."""
    compared: str = ""
    """The candidate program the last comparison ran ("" before any)."""
    evidence: Evidence | None = None
    """What the last comparison showed (None: nothing was compared)."""
    comparisons: int = 0
    """How many comparisons ran: the first, and one more after a counterexample repair."""


class SolveState(TypedDict, total=False):
    task: Task
    """The task being solved."""
    entry_point: str
    """The function the task's tests call."""
    max_attempts: int
    """How many LLM attempts (generate and its retries) the task may take."""
    hits: list[Hit]
    """The active modules retrieve found, nearest first, with their distances."""
    archived: list[Module]
    """Pruned modules near the task: tried for reuse, never shown to the model."""
    insights: list[Insight]
    """The lessons shown to generate and repair."""
    pending: Attempt | None
    """The candidate just asked for, not yet validated (validate records it)."""
    attempts: Annotated[list[Attempt], operator.add]
    """Every iteration, in order: a reuse, or an LLM attempt and its judgement."""
    steps: Annotated[list[TraceStep], operator.add]
    """The decisions of the nodes that are not attempts (retrieve, try_reuse, store, reflect)."""
    samples: list[Attempt]
    """The candidates `sample` drew for a task whose tests were proposed; `select` picks one."""
    side_replies: Annotated[list[Reply], operator.add]
    """Completions asked for outside the attempts: the proposal, the samples not chosen."""
    warnings: Annotated[list[str], operator.add]
    """What the caller must know of the result: proposed tests dropped, an unconfirmed module
    reused."""
    stopped: str | None
    """Why the solve ended before any attempt (the model proposed no usable test)."""
    reflection: Reply | None
    """The reflection's completion, when reflect asked the model for a lesson."""
    stored: Module | None
    """The module store wrote (None: nothing stored)."""
    cross_check: CrossCheck | None
    """The evidence step's record, once it ran (see `policy.cross_check_due`)."""


def last_attempt(state: SolveState) -> Attempt | None:
    attempts = state.get("attempts") or []
    return attempts[-1] if attempts else None


def llm_attempts(state: SolveState) -> list[Attempt]:
    """The attempts whose candidate came from the model (not reuse)."""
    return [a for a in state.get("attempts") or [] if a.kind != "reuse"]


def reused(state: SolveState) -> Attempt | None:
    """The reuse attempt, when a stored module solved the task."""
    last = last_attempt(state)
    return last if last is not None and last.kind == "reuse" and last.passed else None


def proposed(state: SolveState) -> bool:
    """The task's tests were proposed by the model (no person wrote them)."""
    return any(t.origin == "proposed" for t in state["task"].tests)


def solved(state: SolveState) -> bool:
    last = last_attempt(state)
    return last is not None and last.passed


def replies(state: SolveState) -> list[Reply]:
    """Every completion the solve asked for: one per LLM attempt, the proposal and the samples
    not chosen, the independent implementation of the evidence step, and the reflection."""
    found = [a.reply for a in state.get("attempts") or [] if a.reply is not None]
    found += state.get("side_replies") or []
    checked = state.get("cross_check")
    if checked is not None and checked.reply is not None:
        found.append(checked.reply)
    reflection = state.get("reflection")
    return found + ([reflection] if reflection is not None else [])


def calls_by_kind(state: SolveState) -> dict[str, int]:
    """The completions of `replies`, counted by what asked for them: each LLM attempt's kind
    (generate — the chosen sample too —, repair, retry, restart, counterexample), `side` (the
    proposal of tests and the samples not chosen), `cross_check` (the independent
    implementation) and `reflect`. Benchmarks sum them to show where the calls go."""
    counts: dict[str, int] = {}
    for attempt in state.get("attempts") or []:
        if attempt.reply is not None:
            counts[attempt.kind] = counts.get(attempt.kind, 0) + 1
    extra = {"side": len(state.get("side_replies") or []),
             "cross_check": int(getattr(state.get("cross_check"), "reply", None) is not None),
             "reflect": int(state.get("reflection") is not None)}
    return {**counts, **{kind: n for kind, n in extra.items() if n}}


def near_modules(state: SolveState, max_distance: float) -> list[Module]:
    """The retrieved modules within `max_distance` of the task (of these, the prompt shows
    the ones `policy.modules_to_show` keeps)."""
    return [h.module for h in state.get("hits") or [] if h.distance <= max_distance]
