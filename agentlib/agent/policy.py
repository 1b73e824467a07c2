"""The agent's policy: what the prompt shows of the library, what to ask after a failure, how
to sample it, where the graph goes.

Each rule the README describes is one function here; the graph's routers call them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from agentlib.agent.context import SolveContext
from agentlib.agent.state import SolveState, last_attempt, llm_attempts, proposed, reused, solved
from agentlib.config import ConfigError
from agentlib.model import Attempt, AttemptKind, Hit, Insight, Module, Task


class RouterRuntime(Protocol):
    """What a router uses of LangGraph's `Runtime` (passed by the parameter's name): its
    context. LangGraph reads a router's type hints, and importing `langgraph.runtime` to name
    them would cost a reused solve about a second."""

    context: SolveContext

RetryKind = Literal["repair", "retry", "restart"]
CrossCheckMode = Literal["weak", "always", "never"]
CROSS_CHECK_MODES: tuple[CrossCheckMode, ...] = ("weak", "always", "never")
INDEPENDENT_SEED = 1009
"""The seed of the independent implementation (attempts are seeded 1, 2, …)."""


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


def independent_sampling(temperature: float) -> Sampling:
    """The sampling of the independent implementation: at `temperature` (the
    `repair_temperature` setting; 0: greedy) with a seed of its own, so it is not the
    greedy first answer again."""
    return Sampling(temperature=temperature, seed=INDEPENDENT_SEED) if temperature > 0 \
        else Sampling()


def cross_check_mode(value: str) -> CrossCheckMode:
    """The `cross_check` setting, checked."""
    if value not in CROSS_CHECK_MODES:
        raise ConfigError(f"setting cross_check must be one of {', '.join(CROSS_CHECK_MODES)}, "
                          f"not {value!r} (AGENTLIB_CROSS_CHECK or cross_check in config.toml)")
    return value  # type: ignore[return-value]


def cross_check_due(state: SolveState, mode: CrossCheckMode) -> bool:
    """Compare the candidate that just passed its tests and checks with an independent
    implementation (the `cross_check` node).

    - the first time: with `always`; with `weak` (the default) only when the task's tests are
      weak evidence (`verify.tests_are_weak`: few distinct inputs, or one result); never with
      `never`. Reuse never gets here (a reused module is not validated again);
    - once more after a counterexample repair changed the candidate: the same independent
      implementation, no new call. A repair that kept the candidate is not compared again.
    """
    from agentlib.verify.record import tests_are_weak

    checked = state.get("cross_check")
    if checked is None:
        return mode == "always" or (mode == "weak" and tests_are_weak(
            state["task"].tests, state["entry_point"]))
    last = last_attempt(state)
    return (checked.evidence is not None and checked.evidence.reference_passed
            and checked.comparisons < 2 and last is not None and last.program != checked.compared)


def counterexample_due(state: SolveState) -> bool:
    """Repair with a counterexample: the independent implementation disagreed on some input,
    no counterexample repair was asked yet (one per task), and attempts are left."""
    checked = state.get("cross_check")
    if checked is None or checked.evidence is None or not checked.evidence.counterexamples:
        return False
    tried = llm_attempts(state)
    return (not any(a.kind == "counterexample" for a in tried)
            and len(tried) < state["max_attempts"])


def reflects_after_store(attempts: list[Attempt]) -> bool:
    """Reflect on a task solved only after a failure the model fixed.

    Not when the plain retry passed: the same prompt without the library's modules and
    lessons passed at once, so the failure came from what was shown, not from a mistake of
    programming (the lessons written from such pairs were generic, and each cost a call).
    A counterexample repair is not such a failure (the candidate had passed its tests).
    """
    tried = [a for a in attempts if a.kind not in ("reuse", "counterexample")]
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


def route_start(state: SolveState, runtime: RouterRuntime) -> Literal[
        "propose", "retrieve", "finish", "generate", "sample"]:
    """A task without tests has them proposed first (`Agent.solve` refuses it when proposing
    is off). A state that has looked in the library already (it holds `hits`: `Agent.solve`
    ran `retrieve` and `try_reuse` as plain functions, `api.look_in_library`) goes on where
    `try_reuse`'s router says."""
    if "hits" in state:
        return route_after_reuse(state, runtime)
    return "retrieve" if state["task"].tests else "propose"


def route_after_propose(state: SolveState) -> Literal["retrieve", "finish"]:
    return "retrieve" if state["task"].tests else "finish"


MISLEAD_EVIDENCE = 2
"""First attempts that must have failed with a module in view before it can be hidden."""
UNUSED_AFTER = 4
"""Prompts a module may appear in, never called, before it is hidden."""


def module_misleads(module: Module) -> bool:
    """The module's record says it misleads: first attempts that saw it failed at least
    MISLEAD_EVIDENCE times, and more often than they passed. (No record yet: it does not.)"""
    return (module.times_shown_failed >= MISLEAD_EVIDENCE
            and module.times_shown_failed > module.times_shown_passed)


def module_unused(module: Module) -> bool:
    """The model does not call it: UNUSED_AFTER prompts showed it, and no first attempt
    called it (on the tuning stream, distance and names did not tell which modules the model
    would call; its own record does)."""
    return module.times_shown >= UNUSED_AFTER and module.times_shown_called == 0


def named_by_task(module: Module, task: Task) -> bool:
    """The task's text or tests name the module: it is shown whatever its record says."""
    pattern = re.compile(rf"\b{re.escape(module.name)}\b")
    return any(pattern.search(text) for text in [task.prompt, *(t.source for t in task.tests)])


def hidden_reason(module: Module, task: Task) -> str | None:
    """Why a module near enough to show is left out of the prompt (None: it is shown)."""
    if named_by_task(module, task):
        return None
    if module_misleads(module):
        return (f"first attempts with it in view failed {module.times_shown_failed}, "
                f"passed {module.times_shown_passed}")
    if module_unused(module):
        return f"shown {module.times_shown} times, never called"
    return None


def modules_to_show(hits: list[Hit], task: Task, max_distance: float) -> list[Module]:
    """The modules the first attempt's prompt shows, nearest first: within `max_distance`
    (the `module_max_distance` setting) and not hidden by their record (`hidden_reason`).
    Hidden modules are still tried for reuse, and the model may still call them."""
    return [h.module for h in hits
            if h.distance <= max_distance and hidden_reason(h.module, task) is None]


def insight_misleads(insight: Insight) -> bool:
    """A lesson that misled more often than it helped is not shown (no record: it is)."""
    return insight.misled > insight.helped


def route_after_reuse(state: SolveState, runtime: RouterRuntime
                      ) -> Literal["finish", "generate", "sample"]:
    """Reused: done. Proposed tests: draw several candidates and choose by agreement
    (`select`), since a candidate that fails a proposed test may still be right."""
    cross_check_mode(runtime.context.settings.cross_check)  # a bad setting fails before a call
    if reused(state) is not None:
        return "finish"
    return "sample" if proposed(state) else "generate"


def route_after_validate(state: SolveState, runtime: RouterRuntime) -> Literal[
        "cross_check", "store", "reflect", "repair", "retry", "restart"]:
    if solved(state):
        mode = cross_check_mode(runtime.context.settings.cross_check)
        return "cross_check" if cross_check_due(state, mode) else "store"
    if len(llm_attempts(state)) >= state["max_attempts"]:
        return "reflect"
    return next_kind(state["attempts"])


def route_after_cross_check(state: SolveState) -> Literal["counterexample", "store"]:
    return "counterexample" if counterexample_due(state) else "store"


def route_after_store(state: SolveState) -> Literal["reflect", "finish"]:
    return "reflect" if reflects_after_store(state.get("attempts") or []) else "finish"
