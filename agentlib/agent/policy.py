"""The agent's policy: what to ask after a failure, how to sample it, where the graph goes.

Each rule the README describes is one function here; the graph's routers call them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from agentlib.agent.state import SolveState, llm_attempts, proposed, reused, solved
from agentlib.model import Attempt, AttemptKind

RetryKind = Literal["repair", "retry", "restart"]


@dataclass(frozen=True)
class Sampling:
    """How a request is decoded: greedy (temperature None) or sampled with a seed."""

    temperature: float | None = None
    seed: int | None = None

    def options(self) -> dict[str, Any]:
        """The `LLM.complete` options that ask for this sampling."""
        if self.temperature is None:
            return {}
        return {"temperature": self.temperature, "seed": self.seed}


@dataclass(frozen=True)
class Request:
    """What one LLM attempt asks: its kind, the conversation and the sampling."""

    kind: AttemptKind
    messages: list[dict[str, str]]
    sampling: Sampling = field(default_factory=Sampling)


def next_kind(attempts: list[Attempt]) -> RetryKind:
    """How to ask after a failed attempt.

    - a rejected reply (no usable function, special-cased inputs, a validator) is answered
      in the same conversation with the reason: `repair`;
    - a first answer written with library modules or lessons in view is asked again exactly
      as without a library: `retry` (small models are misled by near-but-different modules:
      on MBPP the agent's first attempts passed less often than without a library; so such a
      task costs one call more than it would have, not a chain of repairs);
    - the first failure otherwise gets the failing cases in the same conversation: `repair`;
    - after that, a fresh start from the task and its failing cases alone: `restart` (small
      models stay anchored on code they see: on MBPP, repairs after the first never passed).
    """
    tried = [a for a in attempts if a.kind != "reuse"]
    last = tried[-1]
    if last.rejection is not None:
        return "repair"
    if len(tried) == 1 and (tried[0].modules_shown or tried[0].lessons_shown):
        return "retry"
    return "restart" if len(tried) >= 2 else "repair"


def sampling(kind: AttemptKind, attempts_before: int, temperature: float) -> Sampling:
    """The sampling of an attempt: greedy for `generate` and `retry` (the task as without a
    library); repairs and restarts at `temperature` (the `repair_temperature` setting, 0:
    greedy), seeded by the number of attempts before, since greedy decoding tends to repeat
    the failed answer."""
    if kind in ("generate", "retry", "reuse") or temperature <= 0:
        return Sampling()
    return Sampling(temperature=temperature, seed=attempts_before)


def sample_sampling(number: int, temperature: float) -> Sampling:
    """The sampling of the `number`-th (1-based) candidate drawn for proposed tests: the first
    greedy, as `generate` asks; the others at `temperature` (the `repair_temperature`
    setting; 0: greedy), seeded by their number, so that they are independent draws."""
    if number == 1 or temperature <= 0:
        return Sampling()
    return Sampling(temperature=temperature, seed=number - 1)


def reflects_after_store(attempts: list[Attempt]) -> bool:
    """Reflect on a task solved only after a failure the model fixed.

    Not when the plain retry passed: the same prompt without the library's modules and
    lessons passed at once, so the failure came from what was shown, not from a mistake of
    programming (the lessons written from such pairs were generic, and each cost a call).
    """
    tried = [a for a in attempts if a.kind != "reuse"]
    return len(tried) > 1 and tried[-1].kind != "retry"


def lessons_helped(state: SolveState) -> bool:
    """The shown lessons helped: the task was solved by the model's first attempt."""
    return solved(state) and reused(state) is None and len(llm_attempts(state)) == 1


def lessons_misled(state: SolveState) -> bool:
    """The shown lessons misled: the same prompt without them (the plain retry) passed where
    the prompt with them failed, and no module was shown beside them to blame instead."""
    tried = llm_attempts(state)
    return (solved(state) and len(tried) == 2 and tried[-1].kind == "retry"
            and not tried[0].modules_shown)


def route_start(state: SolveState) -> Literal["propose", "retrieve"]:
    """A task without tests has them proposed first (`Agent.solve` refuses it when proposing
    is off)."""
    return "retrieve" if state["task"].tests else "propose"


def route_after_propose(state: SolveState) -> Literal["retrieve", "finish"]:
    return "retrieve" if state["task"].tests else "finish"


def route_after_reuse(state: SolveState) -> Literal["finish", "generate", "sample"]:
    """Reused: done. Proposed tests: draw several candidates and choose by agreement
    (`select`), since a candidate that fails a proposed test may still be right."""
    if reused(state) is not None:
        return "finish"
    return "sample" if proposed(state) else "generate"


def route_after_validate(state: SolveState) -> Literal["store", "reflect", "repair", "retry",
                                                       "restart"]:
    if solved(state):
        return "store"
    if len(llm_attempts(state)) >= state["max_attempts"]:
        return "reflect"
    return next_kind(state["attempts"])


def route_after_store(state: SolveState) -> Literal["reflect", "finish"]:
    return "reflect" if reflects_after_store(state.get("attempts") or []) else "finish"
