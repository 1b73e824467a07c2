"""Choosing a candidate when the tests were proposed by the model (CodeT-style dual agreement).

`sample` draws a few candidates. `select` runs each, in one sandbox run, on the proposed tests
and on in-domain inputs generated from them (`agentlib.verify.domain`). When no candidate
returns a value on any proposed test's call (wrong arity, or the arguments the other way
round), the tests are proposed once more with the candidates' signature shown, and the
candidates judged again. Candidates that return the same on every input form a group, scored
by its size times the number of proposed tests its members pass. The best group's first
candidate goes on to `validate`, with the task's tests narrowed to the proposed tests that
group passes: a proposed test that the agreeing candidates fail is taken for the mistake, not
the candidates. When no candidate passes any proposed test, the tests are taken for the mistake
too: they are restated with what the best group returns (still `proposed`, so the module is stored
unconfirmed, with a warning), unless it returns one and the same on every input (a forgotten
return) or no proposed call returns a value from it. Only then are the tests kept and the
usual repairs follow. On the examples development set (`no-examples.jsonl`), the 7 tasks where
no candidate passed a proposed test all ended without a program that passes the hidden tests,
6 of them after repairs toward those tests, though the first candidate of 3 of them passed the
hidden tests.
"""

from __future__ import annotations

import ast
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from langgraph.runtime import Runtime

from agentlib.agent import prompts
from agentlib.agent.ask import ask
from agentlib.agent.context import SolveContext
from agentlib.agent.policy import Request, sample_sampling
from agentlib.agent.propose import ask_for_tests
from agentlib.agent.requests import Shown, generate_request, task_prompt
from agentlib.agent.retrieve import step
from agentlib.agent.sanity import literal_expectations
from agentlib.agent.state import SolveState
from agentlib.code.calls import accepts, first_call
from agentlib.code.source import find_function, signature
from agentlib.errors import SandboxError
from agentlib.model import Attempt, TestCase
from agentlib.sandbox import run as run_sandbox
from agentlib.verify.domain import generate_inputs
from agentlib.verify.observe import observe
from agentlib.verify.probe import PROBE_SOURCE, calls_for, outcomes, probe_case, read_outcome

GENERATED = 20
"""In-domain inputs generated from the proposed tests' own, to tell the candidates apart."""
TIMEOUT_S = 2.0
"""Wall and CPU seconds per call when judging the candidates."""


def sample(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Draw the candidates for proposed tests: the first as `generate` asks (the library and
    lessons shown, greedy), the others from the task alone, sampled (`policy.sample_sampling`);
    `propose_samples` in all."""
    start = time.monotonic()
    ctx = runtime.context
    settings = ctx.settings
    count = max(1, settings.propose_samples)
    request, shown = generate_request(state, settings)
    drawn = [ask(state, ctx, request, shown)["pending"]]
    for number in range(2, count + 1):
        user = task_prompt(state) + prompts.SAMPLE.format(number=number, count=count)
        request = Request("generate", [{"role": "system", "content": prompts.SYSTEM},
                                       {"role": "user", "content": user}],
                          sample_sampling(number, settings.repair_temperature))
        drawn.append(ask(state, ctx, request, Shown())["pending"])
    tokens = sum(a.reply.prompt_tokens + a.reply.completion_tokens for a in drawn if a.reply)
    unusable = [str(n) for n, a in enumerate(drawn, start=1) if not a.program]
    detail = f"unusable: {', '.join(unusable)}" if unusable else "every reply held a function"
    return {"samples": drawn,
            "steps": step("sample", f"{len(drawn)} candidate(s) drawn", detail, start, state,
                          tokens)}


def _functions(candidates: list[Attempt], entry_point: str) -> list[tuple[str, ast.AST]]:
    """(program, definition of `entry_point`) of each usable candidate."""
    return [(a.program, node) for a in candidates
            if a.program and a.rejection is None
            and (node := find_function(a.program, entry_point)) is not None]


def fits(candidates: list[Attempt], test: TestCase, entry_point: str) -> bool:
    """Whether some candidate can take the arguments `test` passes (`code.calls.accepts`,
    the one arity rule)."""
    call = first_call([test.source], entry_point)
    return call is not None and any(accepts(node, call)
                                    for _, node in _functions(candidates, entry_point))


def _proposed_again(state: SolveState, ctx: SolveContext, candidates: list[Attempt]
                    ) -> tuple[list[TestCase], list[Any], Any]:
    """Propose tests once more with the first usable candidate's signature shown, and keep
    those some candidate can be called with: asked when no candidate returns a value on any
    proposed test's call. On the examples development set, tests that called
    `left_insertion(a, x)` with one argument, or with its arguments the other way round,
    failed every candidate, and the repairs went toward them. Returns (the tests, or [] when
    none fits; the trace step; the reply)."""
    start = time.monotonic()
    entry = state["entry_point"]
    shown = signature(_functions(candidates, entry)[0][0], entry).split(" -> ")[0]
    proposal = ask_for_tests(ctx.llm(), state["task"].prompt, entry, ctx.on_token,
                             signature=shown)
    reply = proposal.reply
    tokens = reply.prompt_tokens + reply.completion_tokens
    fitting = [t for t in proposal.tests if fits(candidates, t, entry)]
    if not fitting:
        return [], step("propose", "proposed again: none fits", f"no candidate returns a "
                        f"value on the proposed tests' calls, and none of the tests proposed "
                        f"for {shown} can call one: the first tests are kept", start, state,
                        tokens), reply
    said = "\n".join(t.source for t in fitting)
    return fitting, step("propose", f"proposed again for {shown}",
                         f"no candidate returns a value on the first tests' calls; now:\n"
                         f"{said}", start, state, tokens), reply


@dataclass(frozen=True)
class Judged:
    """What one candidate did: the proposed tests it passed and its outputs on every input."""

    number: int
    """The candidate's place among the samples (1-based)."""
    passed: frozenset[int]
    """Indices of the proposed tests it passed."""
    outputs: tuple[tuple[str, str, str], ...]
    """(kind, type, repr) of each call's outcome."""
    answered: bool = True
    """Whether it returned a value on at least one of the proposed tests' own calls."""


@dataclass(frozen=True)
class Group:
    """Candidates that returned the same on every input, and the proposed tests they pass."""

    members: tuple[int, ...]
    passed: frozenset[int]

    @property
    def score(self) -> int:
        return len(self.members) * len(self.passed)


def groups(judged: list[Judged]) -> list[Group]:
    """The agreeing groups, best first: by score, then size, then tests passed, then the
    earliest drawn (the greedy one first)."""
    found: dict[tuple, list[Judged]] = {}
    for one in judged:
        found.setdefault(one.outputs, []).append(one)
    made = [Group(tuple(j.number for j in same),
                  frozenset.intersection(*(j.passed for j in same))) for same in found.values()]
    return sorted(made, key=lambda g: (-g.score, -len(g.members), -len(g.passed), g.members[0]))


def judge(candidates: list[Attempt], tests: list[TestCase], entry_point: str,
          limits: Any) -> list[Judged]:
    """Run every usable candidate on the tests and on generated inputs (one run each)."""
    seen = observe(tests, entry_point)
    inputs = list(seen.examples) + generate_inputs(seen, GENERATED, seed=0)
    calls = list(dict.fromkeys(c for _, c in calls_for(entry_point, inputs, seen.keywords)))
    own = len(dict.fromkeys(c for _, c in calls_for(entry_point, seen.examples, seen.keywords)))
    cases = list(tests) + [probe_case(c) for c in calls]
    limits = dataclasses.replace(limits, timeout_s=min(limits.timeout_s, TIMEOUT_S),
                                 cpu_s=min(limits.cpu_s, TIMEOUT_S))
    ran: dict[str, Judged] = {}
    judged = []
    for number, attempt in enumerate(candidates, start=1):
        if not attempt.program or attempt.rejection is not None:
            continue
        if attempt.program not in ran:  # the same program again: the same outcome
            verdict = run_sandbox(attempt.program.rstrip() + "\n" + PROBE_SOURCE, cases, limits)
            if verdict.ended == "isolation-error":
                raise SandboxError(f"the sandbox could not judge the candidates: "
                                   f"{verdict.detail}")
            results = verdict.results  # a run that died early reports fewer: missing = failed
            passed = frozenset(i for i, r in enumerate(results[:len(tests)]) if r.passed)
            outputs = []
            for i in range(len(calls)):
                at = len(tests) + i
                got = read_outcome(results[at]) if at < len(results) else None
                outputs.append(("unknown", "", "") if got is None else
                               (got.kind, got.type, got.text))
            answered = not own or any(kind == "value" for kind, _, _ in outputs[:own])
            ran[attempt.program] = Judged(number, passed, tuple(outputs), answered)
        judged.append(dataclasses.replace(ran[attempt.program], number=number))
    return judged


def restate_tests(program: str, tests: list[TestCase]) -> list[TestCase]:
    """The proposed tests `assert CALL == LITERAL`, each with LITERAL replaced by what
    `program` returns on CALL (when that is a literal); the others, and given or derived
    tests, left out."""
    return _as_tests(_returns(program, tests))


def _as_tests(returns: list[tuple[str, str]]) -> list[TestCase]:
    return [TestCase(f"assert {call} == {value}", origin="proposed") for call, value in returns]


def _returns(program: str, tests: list[TestCase]) -> list[tuple[str, str]]:
    """(CALL, what `program` returns on it, as a literal) for each proposed `assert CALL ==
    LITERAL` (`sanity.literal_expectations`, the one reader of such tests)."""
    calls = [call for t in tests if t.origin == "proposed"
             for call, _ in literal_expectations(ast.parse(t.source))]
    if not calls:
        return []
    got = outcomes(program, calls, TIMEOUT_S)
    return [(call, out.text) for call, out in zip(calls, got, strict=True)
            if out.kind == "value" and out.complete]


def _restated(best: Group, judged: list[Judged], samples: list[Attempt],
              tests: list[TestCase]) -> list[TestCase]:
    """The proposed tests restated with the best group's answers, when that group is trusted
    over them: no candidate passes any, and the group returns at least two different values
    over the inputs (not None everywhere: a forgotten return). Empty otherwise, and when no
    proposed call returns a literal from it."""
    outputs = next(j.outputs for j in judged if j.number == best.members[0])
    if best.score or len({out for out in outputs if out[0] == "value"}) < 2:
        return []
    return _as_tests(_returns(samples[best.members[0] - 1].program, tests))


def _agreeing(group: Group, judged: list[Judged]) -> str:
    """How much agreement backs the group, in words."""
    if len(group.members) == 1:
        return (f"no two of the {len(judged)} usable candidates agree; sample "
                f"{group.members[0]} is the earliest drawn")
    return f"{len(group.members)} agree on every input"


def _members(group: Group) -> str:
    return ("sample " if len(group.members) == 1 else "samples ") + ", ".join(
        map(str, group.members))


def _unanswered(judged: list[Judged], samples: list[Attempt], tests: list[TestCase],
                entry_point: str) -> bool:
    """Whether no candidate returns a value on any proposed test's call: none can be called
    with their arguments (`fits`; also when the calls have no literal form to run, such as
    `f()`), or each raises on every one."""
    if not judged:
        return False
    proposed = [t for t in tests if t.origin == "proposed"]
    if proposed and not any(fits(samples, t, entry_point) for t in proposed):
        return True
    return not any(j.answered for j in judged)


def select(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Choose the candidate the most agreement backs; narrow the tests to those it passes."""
    start = time.monotonic()
    ctx = runtime.context
    task, samples = state["task"], state["samples"]
    tests = list(task.tests)
    judged = judge(samples, tests, state["entry_point"], ctx.limits)
    update: dict[str, Any] = {"side_replies": [], "steps": [], "warnings": []}
    if _unanswered(judged, samples, tests, state["entry_point"]):
        again, asked, reply = _proposed_again(state, ctx, samples)
        update["side_replies"].append(reply)
        update["steps"] += asked
        if again:
            tests = again
            update["task"] = dataclasses.replace(task, tests=again)
            judged = judge(samples, tests, state["entry_point"], ctx.limits)
    ranked = groups(judged)
    if not ranked:
        chosen, decision = 1, "no usable candidate"
        detail = "every reply was unusable: the first is repaired"
    else:
        best = ranked[0]
        chosen = best.members[0]
        decision = f"sample {chosen} of {len(samples)}"
        detail = "; ".join(f"{_members(g)}: pass {len(g.passed)}/{len(tests)} proposed, "
                           f"score {g.score}" for g in ranked)
        restated = _restated(best, judged, samples, tests)
        if restated:
            update["task"] = dataclasses.replace(task, tests=restated)
            said = "; ".join(t.source for t in restated)
            agree = _agreeing(best, judged)
            detail += (f"; no candidate passes a proposed test, and {agree}: the tests now "
                       f"hold what {_members(best)} return(s): {said}")
            update["warnings"].append(
                f"no candidate passed a proposed test ({agree}): the proposed tests were "
                f"taken for the mistake and now hold what {_members(best)} of "
                f"{len(samples)} return(s): {said}")
        elif best.score == 0:
            detail += ("; no candidate passes a proposed test, and the best returns one and "
                       "the same on every input or no value on their calls: the tests are kept")
        else:
            dropped = [t.source for i, t in enumerate(tests) if i not in best.passed]
            if dropped:
                update["task"] = dataclasses.replace(
                    task, tests=[t for i, t in enumerate(tests) if i in best.passed])
                said = "; ".join(dropped)
                detail += f"; dropped, as the agreeing candidates fail them: {said}"
                update["warnings"].append(
                    f"dropped {len(dropped)} proposed test(s) that {len(best.members)} of "
                    f"{len(samples)} agreeing candidate(s) fail (taken for the tests' "
                    f"mistake): {said}")
    pending = samples[chosen - 1]
    if ranked:
        pending = dataclasses.replace(pending, notes=[*pending.notes, (
            f"chosen by agreement: {len(best.members)} of {len(samples)} candidate(s) "
            f"behave the same, passing {len(best.passed)}/{len(tests)} proposed test(s)")])
    update["side_replies"] += [a.reply for n, a in enumerate(samples, start=1)
                               if n != chosen and a.reply]
    update["steps"] += step("select", decision, detail, start, state)
    return {**update, "pending": pending}
