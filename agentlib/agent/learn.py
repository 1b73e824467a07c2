"""What the library keeps from a solve: `store` the verified function, `reflect` a failure
into a lesson, `finish` by counting how the shown lessons did."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from agentlib.agent import prompts
from agentlib.agent.context import SolveContext
from agentlib.agent.cross_check import module_verification
from agentlib.agent.policy import lessons_helped, lessons_misled
from agentlib.agent.requests import failures
from agentlib.agent.retrieve import search_text, step
from agentlib.agent.state import SolveState, last_attempt, llm_attempts, solved
from agentlib.code import docstring, module_id, signature
from agentlib.library.insights import insight_text
from agentlib.model import Attempt, Module, Reply, TestCase
from agentlib.sandbox import run as run_sandbox

if TYPE_CHECKING:
    from langgraph.runtime import Runtime  # the nodes need only its `context`

DUPLICATE_DISTANCE = 0.08
"""A lesson this near (cosine) a stored one is the same lesson: merged, not stored."""


def store(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Save the verified function in the library (a new version only if it keeps old tests).

    `Library.commit` checks the old version's tests at commit time, outside the write lock,
    and checks again if another writer changed the name meanwhile; a version that fails
    them is stored under a new name (`add_2`, …).
    """
    start = time.monotonic()
    ctx = runtime.context
    if ctx.library is None:
        return {"stored": None, "steps": step("store", "skipped", "library disabled", start,
                                              state)}
    task, name = state["task"], state["entry_point"]
    attempt = last_attempt(state)
    assert attempt is not None and attempt.passed
    source = attempt.candidate
    llm = ctx.runtime.loaded_llm
    module = Module(
        id=module_id(source), name=name, source=source, signature=signature(source, name),
        docstring=docstring(source, name), tests=[t.source for t in task.tests],
        dependencies=list(attempt.dependencies), task_prompt=task.prompt,
        task_id=task.id, backend=ctx.settings.llm, model=llm.name if llm else "",
        created_at=time.time(), verification=module_verification(state).to_dict())

    def check(program: str, tests: list[str]) -> bool:
        return run_sandbox(program, [TestCase(t) for t in tests], ctx.limits).passed

    done = ctx.library.commit(module, check, verified_program=attempt.program)
    stored = done.module
    if stored is None:
        return {"stored": None, "steps": step("store", "not stored", done.detail, start, state)}
    notes = [done.detail] if done.detail else []
    if done.superseded is not None:
        notes.append(f"supersedes {done.superseded.name} v{done.superseded.version} (passes "
                     "its tests too)")
    if done.rounds > 1:
        notes.append(f"the library changed meanwhile: checked against it {done.rounds} times")
    return {"stored": stored, "steps": step("store", f"stored {stored.name} v{stored.version}",
                                            "; ".join(notes), start, state)}


def _first_failure(attempt: Attempt) -> str:
    if attempt.rejection is not None:
        return attempt.rejection.reason
    return failures(attempt.verdict) if attempt.verdict else "no result"


def reflect(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Turn the first failure (later fixed, or never) into one stored, general insight."""
    from agentlib.agent.reflect import ReflectionError, parse_reflection

    start = time.monotonic()
    ctx = runtime.context
    if ctx.library is None or not ctx.settings.use_insights:
        return {"steps": step("reflect", "skipped", "insights disabled", start, state)}
    attempts = llm_attempts(state)
    if not attempts or not attempts[0].program:
        return {"steps": step("reflect", "skipped", "no failed attempt", start, state)}
    task, shown = state["task"], state.get("insights") or []
    last = attempts[-1]
    outcome = (prompts.REFLECT_FIXED.format(fixed=last.candidate.strip())
               if solved(state) else prompts.REFLECT_UNSOLVED)
    misled = (prompts.REFLECT_MISLED.format(lessons=prompts.format_insights(shown))
              if shown else "")
    user = prompts.REFLECT.format(prompt=task.prompt,
                                  tests=prompts.format_tests([t.source for t in task.tests]),
                                  first=attempts[0].program.strip(),
                                  failures=_first_failure(attempts[0]), outcome=outcome,
                                  misled=misled)
    completion = ctx.llm().complete([{"role": "system", "content": prompts.SYSTEM_REFLECT},
                                     {"role": "user", "content": user}])
    reply = Reply(completion.text, completion.prompt_tokens, completion.completion_tokens,
                  completion.latency_s)
    tokens = completion.prompt_tokens + completion.completion_tokens
    try:
        reflection = parse_reflection(completion.text, task_prompt=task.prompt,
                                      entry_point=state["entry_point"], shown=len(shown))
    except ReflectionError as exc:
        return {"reflection": reply,
                "steps": step("reflect", "discarded", str(exc), start, state, tokens)}
    query = search_text(task)
    for number in reflection.misled:
        ctx.library.insights.update_counters(shown[number - 1].id, query, misled=1)
    near = ctx.library.insights.search(insight_text(asdict(reflection.insight)), 1)
    if near and near[0][1] < DUPLICATE_DISTANCE:
        kept = ctx.library.insights.merge(near[0][0].id, reflection.insight)
        return {"reflection": reply, "steps": step(
            "reflect", "duplicate", f"merged into {near[0][0].id} ({near[0][0].taxonomy}): "
            f"the same lesson{'' if kept else ' (since removed)'}", start, state, tokens)}
    stored = ctx.library.insights.add(reflection.insight)
    return {"reflection": reply, "steps": step("reflect", f"learned {stored.taxonomy}",
                                               stored.condition, start, state, tokens)}


def finish(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Count what the first attempt was shown: each module's showing and how the attempt went
    (the evidence of `policy.modules_to_show`); the insights retrieved, helped
    (`policy.lessons_helped`), misled without a reflection to blame them
    (`policy.lessons_misled`)."""
    ctx = runtime.context
    first = next(iter(llm_attempts(state)), None)
    if ctx.library is not None and first is not None and first.modules_shown:
        ids = {h.module.name: h.module.id for h in state.get("hits") or []}
        for name in first.modules_shown:
            ctx.library.update_counters(
                ids[name], times_shown=1, times_shown_passed=int(first.passed),
                times_shown_failed=int(not first.passed),
                times_shown_called=int(name in first.dependencies))
    shown = state.get("insights") or []
    if ctx.library is not None and shown:
        helped, misled = lessons_helped(state), lessons_misled(state)
        query = search_text(state["task"])
        for insight in shown:
            ctx.library.insights.update_counters(insight.id, query, retrieved=1,
                                                 helped=int(helped), misled=int(misled))
    return {}
