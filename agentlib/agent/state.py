"""The graph's state: a typed dict whose list fields accumulate through reducers."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from agentlib.model import Attempt, Insight, Module, Task, TraceStep


class SolveState(TypedDict, total=False):
    task: Task
    entry_point: str
    max_attempts: int
    phase: str  # how the current candidate was asked for: generate | repair | retry
    extract_error: str | None
    retrieved: list[Module]
    relevant: list[str]  # names of retrieved modules close enough to show to the model
    archived: list[Module]  # pruned modules near the task: tried for reuse, never shown
    insights: list[Insight]  # shown to generate and repair
    learned: Insight | None  # what reflect stored
    reused: Module | None
    program: str  # self-contained source of the current candidate (with dependencies)
    candidate: str  # the candidate's own source
    dependencies: list[str]
    fallback: dict[str, Any] | None  # the model's own copies of library functions kept
    attempts: Annotated[list[Attempt], operator.add]
    trace: Annotated[list[TraceStep], operator.add]
    llm_calls: Annotated[int, operator.add]
    prompt_tokens: Annotated[int, operator.add]
    completion_tokens: Annotated[int, operator.add]
    messages: list[dict[str, Any]]
    solved: bool
    stored: Module | None
