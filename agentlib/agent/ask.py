"""The LLM attempts: generate, repair, retry and restart ask the model and extract a
candidate; `validate` judges it (see `policy` for which comes when)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from agentlib.agent.context import SolveContext
from agentlib.agent.policy import Request, RetryKind
from agentlib.agent.requests import Shown, generate_request, retry_request
from agentlib.agent.state import SolveState, near_modules
from agentlib.code import ExtractionError, candidate_program, extract, first_call
from agentlib.model import Attempt, Fallback, Rejection, Reply

if TYPE_CHECKING:
    from langgraph.runtime import Runtime  # the nodes need only its `context`


def _program(ctx: SolveContext, source: str, dependencies: list[str]) -> str:
    """The candidate preceded by the self-contained source of the library modules it calls."""
    if not dependencies or ctx.library is None:
        return source
    return candidate_program(source, dependencies, ctx.library.get)


def ask(state: SolveState, ctx: SolveContext, request: Request, shown: Shown) -> dict[str, Any]:
    """Send `request`, extract a candidate from the reply; return it as the pending attempt."""
    start = time.monotonic()
    options: dict[str, Any] = request.sampling.options()
    if ctx.on_token:
        options["on_token"] = ctx.on_token
    completion = ctx.llm().complete(request.messages, **options)
    entry = state["entry_point"]
    attempt = Attempt(
        kind=request.kind, messages=request.messages,
        reply=Reply(completion.text, completion.prompt_tokens, completion.completion_tokens,
                    completion.latency_s),
        temperature=request.sampling.temperature, seed=request.sampling.seed,
        modules_shown=list(shown.modules), code_shown=shown.code,
        lessons_shown=list(shown.lessons))
    # Shown or not in this prompt, a near library function the model writes out again is
    # replaced by the verified one (its own copy stays the fallback).
    names = {m.name for m in near_modules(state, ctx.settings.module_max_distance)}
    try:
        candidate = extract(completion.text, entry, names - {entry},
                            first_call([t.source for t in state["task"].tests], entry))
    except ExtractionError as exc:
        attempt.rejection = Rejection(exc.kind, str(exc))
    else:
        attempt.candidate, attempt.dependencies = candidate.source, candidate.dependencies
        attempt.program = _program(ctx, candidate.source, candidate.dependencies)
        if candidate.standalone:
            attempt.fallback = Fallback(
                candidate.standalone, candidate.standalone_dependencies,
                _program(ctx, candidate.standalone, candidate.standalone_dependencies))
        if candidate.renamed_from:
            attempt.notes.append(f"renamed {candidate.renamed_from} to {entry}")
        if candidate.unshadowed:
            attempt.notes.append("renamed the local variable(s) " + ", ".join(
                f"{v} (it hid the function {v})" for v in candidate.unshadowed))
    attempt.asked_s = round(time.monotonic() - start, 4)
    return {"pending": attempt}


def generate(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Ask the model for a new function, showing it the relevant library modules."""
    request, shown = generate_request(state, runtime.context.settings)
    return ask(state, runtime.context, request, shown)


def _ask_again(state: SolveState, runtime: Runtime[SolveContext], kind: RetryKind
               ) -> dict[str, Any]:
    request, shown = retry_request(state, runtime.context.settings, kind)
    return ask(state, runtime.context, request, shown)


def repair(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Answer the failed attempt in its own conversation: the failing cases or the rejection."""
    return _ask_again(state, runtime, "repair")


def retry(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Ask for the task again exactly as without a library, greedily."""
    return _ask_again(state, runtime, "retry")


def restart(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Start afresh from the task and its failing cases, without the library."""
    return _ask_again(state, runtime, "restart")
