"""Views of a finished state: the trace `--trace` shows and the result record, both read
from the attempts (one record per iteration) and the other nodes' steps."""

from __future__ import annotations

from typing import Any

from agentlib.agent.state import calls_by_kind, last_attempt, llm_attempts, replies, reused, solved
from agentlib.model import Attempt, SolveResult, Task, TraceStep


def _shown(attempt: Attempt) -> list[str]:
    notes = []
    if attempt.modules_shown:
        notes.append("shown: " + ", ".join(attempt.modules_shown) + (
            f" (with the code of {attempt.code_shown})" if attempt.code_shown else ""))
    if attempt.lessons_shown:
        notes.append(f"{len(attempt.lessons_shown)} lesson(s)")
    return notes


def asked_line(attempt: Attempt) -> TraceStep:
    """The trace line of asking: the node, what the prompt showed, what was done to the reply."""
    tokens = attempt.reply.prompt_tokens + attempt.reply.completion_tokens if attempt.reply else 0
    notes = _shown(attempt)
    if attempt.candidate == "" and attempt.rejection is not None:
        return TraceStep(attempt.kind, "unusable reply", "; ".join(
            notes + [attempt.rejection.reason]), attempt.asked_s, tokens)
    if attempt.dependencies:
        notes.append(f"calls library: {', '.join(attempt.dependencies)}")
    notes += attempt.notes
    return TraceStep(attempt.kind, "candidate written", "; ".join(notes), attempt.asked_s,
                     tokens)


def _validated(attempt: Attempt) -> TraceStep:
    """The trace line of validation: passed, failed, rejected or nothing to run."""
    if attempt.candidate == "" and attempt.rejection is not None:
        return TraceStep("validate", "nothing to run", attempt.rejection.reason,
                         attempt.validated_s)
    if attempt.rejection is not None:
        return TraceStep("validate", "rejected", attempt.rejection.reason, attempt.validated_s)
    verdict = attempt.verdict
    assert verdict is not None
    passed = sum(r.passed for r in verdict.results)
    detail = f"{passed}/{len(verdict.results)} tests passed ({verdict.ended}, {verdict.isolation})"
    if attempt.warnings:
        detail += "; warnings: " + "; ".join(attempt.warnings)
    return TraceStep("validate", "passed" if verdict.passed else "failed", detail,
                     attempt.validated_s)


def attempt_lines(attempt: Attempt) -> list[TraceStep]:
    """The trace lines of one attempt."""
    if attempt.kind == "reuse":
        return [TraceStep("try_reuse", f"reused {attempt.module}", "; ".join(attempt.notes),
                          attempt.asked_s)]
    return [asked_line(attempt), _validated(attempt)]


def _derived(state: dict[str, Any]) -> list[TraceStep]:
    """The first line when the task's tests were read from its text."""
    task = state.get("task")
    derived = [t.source for t in task.tests if t.origin == "derived"] if task else []
    if not derived:
        return []
    return [TraceStep("derive", f"{len(derived)} test(s) from the text", "\n".join(derived))]


def trace(state: dict[str, Any]) -> list[TraceStep]:
    """Every decision in order: where the tests came from, then node steps and attempts'
    lines interleaved as they happened."""
    steps = state.get("steps") or []
    lines: list[TraceStep] = _derived(state)
    for number, attempt in enumerate(state.get("attempts") or []):
        lines += [s for s in steps if s.after == number]
        lines += attempt_lines(attempt)
    done = len(state.get("attempts") or [])
    return lines + [s for s in steps if s.after >= done]


def _error(attempt: Attempt | None) -> str | None:
    if attempt is None:
        return None
    if attempt.rejection is not None:
        return attempt.rejection.reason
    if attempt.verdict is not None and attempt.verdict.failures:
        first = attempt.verdict.failures[0]
        message = first.message.splitlines()[0] if first.message else ""
        return f"{first.test}: {first.error_type}: {message}"
    return None


def proposal_warnings(state: dict[str, Any]) -> list[str]:
    """What a result must say when its tests were proposed: which, and how it was stored."""
    task = state.get("task")
    tests = [t.source for t in task.tests if t.origin == "proposed"] if task else []
    if not tests:
        return []
    stored = state.get("stored")
    unconfirmed = stored is not None and stored.verification.get("status") == "unconfirmed"
    kept = (f"; stored {stored.name} unconfirmed: check them, then `agentlib lib confirm "
            f"{stored.name}`" if unconfirmed else "")
    return [f"the tests were proposed by the model, not given: {'; '.join(tests)}{kept}"]


def result(task: Task, entry: str, state: dict[str, Any], wall: float) -> SolveResult:
    """The result record of a finished solve."""
    last, reuse = last_attempt(state), reused(state)
    done = solved(state)
    tried = llm_attempts(state)
    if reuse is not None:
        decision = "reused"
    elif done:
        decision = "created" if len(tried) == 1 else "repaired"
    else:
        decision = "failed"
    stored = state.get("stored")
    completions = replies(state)
    return SolveResult(
        id=task.id, status="solved" if done else "failed", decision=decision,
        entry_point=entry, program=last.program if last else "",
        module_id=stored.id if stored else (reuse.module_id if reuse else None),
        attempts=len(tried), llm_calls=len(completions),
        prompt_tokens=sum(r.prompt_tokens for r in completions),
        completion_tokens=sum(r.completion_tokens for r in completions),
        wall_s=round(wall, 3), error=None if done else _error(last) or state.get("stopped"),
        verdict=last.verdict if last else None, trace=trace(state),
        modules_used=[reuse.module] if reuse is not None and reuse.module else
        list(last.dependencies) if last else [],
        insights_used=[i.id for i in state.get("insights") or []],
        warnings=proposal_warnings(state) + list(state.get("warnings") or []),
        calls_by_kind=calls_by_kind(state))
