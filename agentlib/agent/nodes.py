"""The graph's nodes (plain functions returning partial state updates) and routers."""

from __future__ import annotations

import ast
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any, Literal

from langgraph.runtime import Runtime

from agentlib.agent import prompts
from agentlib.agent.context import SolveContext
from agentlib.agent.state import SolveState
from agentlib.code import (
    ExtractionError,
    accepts,
    candidate_program,
    docstring,
    extract,
    find_function,
    first_call,
    module_id,
    rename_source,
    signature,
)
from agentlib.errors import StoreError
from agentlib.library.insights import insight_text, select_insights
from agentlib.library.store import query_text, task_gist
from agentlib.model import Attempt, Module, TraceStep, Verdict
from agentlib.sandbox import run as run_sandbox
from agentlib.sandbox import special_cases_tests


def _step(node: str, decision: str, detail: str = "", start: float = 0.0,
          tokens: int = 0) -> list[TraceStep]:
    return [TraceStep(node=node, decision=decision, detail=detail,
                      wall_s=round(time.monotonic() - start, 4) if start else 0.0, tokens=tokens)]


def wrapper_source(entry_point: str, target: str) -> str:
    """A thin module that exposes a stored function under the name a task asks for."""
    return (f"def {entry_point}(*args, **kwargs):\n"
            f"    \"\"\"Call {target}.\"\"\"\n"
            f"    return {target}(*args, **kwargs)\n")


def _query(task: Any) -> str:
    """The text a task searches the library and its insights with."""
    return query_text(task.prompt, [t.source for t in task.tests])


ARCHIVE_K = 2  # pruned modules tried for reuse per task (like retrieved ones, at any distance)


def retrieve(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Find the library modules nearest to the task."""
    start = time.monotonic()
    library = runtime.context.library
    if library is None:
        return {"retrieved": [], "trace": _step("retrieve", "skipped", "library disabled")}
    task = state["task"]
    settings = runtime.context.settings
    query = _query(task)
    vector = library.embed(query) if library.count() else None
    found = library.search_vector(vector, settings.top_k) if vector is not None else []
    detail = ", ".join(f"{m.name} ({d:.2f})" for m, d in found) or "library is empty"
    relevant = [m.name for m, d in found if d <= settings.module_max_distance]
    # Pruned modules stay out of prompts, but one that passes a new task's tests comes back.
    active = {m.name for m, _ in found}
    archived = [] if vector is None else [
        m for m, _ in library.search_vector(vector, ARCHIVE_K, {"status": "pruned"})
        if m.name not in active and library.get(m.name) is None]
    insights = []
    if settings.use_insights and settings.insight_k > 0:
        nearest = library.insights.search(query, 2 * settings.insight_k)
        insights = select_insights(nearest, task_gist(task.prompt), settings.insight_k,
                                   settings.insight_max_distance)
        if insights:
            detail += "; insights: " + ", ".join(i.taxonomy for i in insights)
    if archived:
        detail += "; archived: " + ", ".join(m.name for m in archived)
    return {"retrieved": [m for m, _ in found], "relevant": relevant, "insights": insights,
            "archived": archived,
            "trace": _step("retrieve", f"{len(found)} module(s), {len(insights)} insight(s)",
                           detail, start)}


def try_reuse(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Run retrieved modules against the task's tests; reuse the first that passes them all."""
    start = time.monotonic()
    ctx = runtime.context
    task, entry = state["task"], state["entry_point"]
    wanted = first_call([t.source for t in task.tests], entry)
    fitting = []
    for module in state.get("retrieved", []) + state.get("archived", []):
        function = find_function(module.source, module.name)
        if wanted is None or function is None or accepts(function, wanted):
            fitting.append(module)
    if not fitting:
        return {"reused": None, "trace": _step("try_reuse", "nothing to try",
                                               "no retrieved module has a fitting signature",
                                               start)}

    def attempt(module: Module) -> tuple[Module, str, Verdict | None]:
        try:
            program = ctx.library.program_for(module)
        except StoreError:  # an archived module whose dependency is gone
            return module, "", None
        if module.name != entry:
            program += "\n\n" + wrapper_source(entry, module.name)
        return module, program, run_sandbox(program, task.tests, ctx.limits)

    pool = ThreadPoolExecutor(max_workers=2)
    try:
        outcomes = list(pool.map(attempt, fitting))
    except KeyboardInterrupt:  # return to the user at once; running checks end on their own
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    for module in state.get("retrieved", []):
        ctx.library.update_counters(module.id, times_retrieved=1)
    outcomes = [(m, p, v) for m, p, v in outcomes if v is not None]
    for module, program, verdict in outcomes:
        if verdict.passed:
            how = "reused"
            if module.status == "pruned":
                try:
                    ctx.library.revive(module)
                except StoreError:
                    continue
                how = "revived from the pruned modules and reused"
            ctx.library.update_counters(module.id, times_reused=1)
            return {"reused": module, "program": program, "solved": True,
                    "candidate": module.source if module.name == entry
                    else wrapper_source(entry, module.name),
                    "dependencies": [] if module.name == entry else [module.name],
                    "attempts": [Attempt(source=program, verdict=verdict, origin="reuse",
                                         module_id=module.id)],
                    "trace": _step("try_reuse", f"reused {module.name}",
                                   f"{how}: passed {len(verdict.results)} test(s) with zero "
                                   "LLM calls", start)}
        ctx.library.update_counters(module.id, times_failed=1)
    tried = ", ".join(f"{m.name}: {len(v.failures)} failing" for m, _, v in outcomes)
    return {"reused": None, "trace": _step("try_reuse", "no module passed", tried, start)}


def _shown_modules(state: SolveState) -> list[Module]:
    """The retrieved modules close enough to the task to show to the model."""
    relevant = set(state.get("relevant", []))
    return [m for m in state.get("retrieved", []) if m.name in relevant]


def _clip(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def _example(module: Module, limit: int = 100) -> str:
    """One of the module's own tests as an example call with its value (`f(5) == [0, 1]`),
    or "" when none is an `assert name(...) == value` of at most `limit` characters."""
    for test in module.tests:
        try:
            tree = ast.parse(test.strip())
        except SyntaxError:
            continue
        check = tree.body[0] if len(tree.body) == 1 else None
        if not isinstance(check, ast.Assert) or not isinstance(check.test, ast.Compare):
            continue
        left, ops = check.test.left, check.test.ops
        if (len(ops) == 1 and isinstance(ops[0], ast.Eq) and isinstance(left, ast.Call)
                and isinstance(left.func, ast.Name) and left.func.id == module.name):
            example = ast.unparse(check.test)
            if len(example) <= limit:
                return example
    return ""


def module_line(module: Module) -> str:
    """How a library module is shown to the model: signature, what it does, an example.

    The description is the first line of the docstring, else the gist of the task the module
    was written for, whole up to a word boundary (a cut mid-sentence hid what a function
    returns); the example call tells a small model more about the return value than words.
    """
    doc_lines = module.docstring.strip().splitlines()
    described = doc_lines[0] if doc_lines else ""
    if not described:
        described = task_gist(module.task_prompt)
        described = re.sub(rf"^`?{re.escape(module.name)}\s*\([^)]*\)`?\s*"
                           r"(?:(?:that|which|to)\s+)?", "", described)
    line = f"{module.signature}: {_clip(described, 200)}"
    example = _example(module)
    return f"{line} Example: {example}" if example else line


def _with_closure(ctx: SolveContext, source: str, dependencies: list[str]) -> str:
    """The candidate preceded by the self-contained source of the library modules it calls."""
    if not dependencies or ctx.library is None:
        return source
    return candidate_program(source, dependencies, ctx.library.get)


def _ask(state: SolveState, ctx: SolveContext, messages: list[dict[str, str]],
         node: Literal["generate", "repair"], start: float, sample: bool = True,
         phase: str | None = None, shown: str = "") -> dict[str, Any]:
    """Call the model, extract a candidate and build its self-contained program.

    `phase` names how the candidate was asked for (default: the node), as its attempt records;
    `shown` says what of the library the prompt held, for the trace.
    """
    options: dict[str, Any] = {"on_token": ctx.on_token} if ctx.on_token else {}
    if node == "repair" and sample and ctx.settings.repair_temperature > 0:
        # Greedy decoding tends to repeat the failed answer; a seeded sample varies it.
        attempt = len(state.get("attempts", []))
        options.update(temperature=ctx.settings.repair_temperature, seed=attempt)
    completion = ctx.llm().complete(messages, **options)
    names = {m.name for m in _shown_modules(state)}
    entry = state["entry_point"]
    tokens = completion.prompt_tokens + completion.completion_tokens
    update: dict[str, Any] = {
        "messages": messages + [{"role": "assistant", "content": completion.text}],
        "llm_calls": 1, "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens, "phase": phase or node}
    try:
        candidate = extract(completion.text, entry, names - {entry},
                            first_call([t.source for t in state["task"].tests], entry))
    except ExtractionError as exc:
        update.update(candidate="", program="", dependencies=[], extract_error=str(exc),
                      fallback=None)
        detail = "; ".join(filter(None, [shown, str(exc)]))
        update["trace"] = _step(node, "unusable reply", detail, start, tokens)
        return update
    program = _with_closure(ctx, candidate.source, candidate.dependencies)
    fallback = None
    if candidate.standalone:
        fallback = {"candidate": candidate.standalone,
                    "dependencies": candidate.standalone_dependencies,
                    "program": _with_closure(ctx, candidate.standalone,
                                             candidate.standalone_dependencies)}
    notes = [shown] if shown else []
    if candidate.dependencies:
        notes.append(f"calls library: {', '.join(candidate.dependencies)}")
    if candidate.renamed_from:
        notes.append(f"renamed {candidate.renamed_from} to {entry}")
    if candidate.unshadowed:
        notes.append("renamed the local variable(s) " + ", ".join(
            f"{v} (it hid the function {v})" for v in candidate.unshadowed))
    detail = "; ".join(notes)
    update.update(candidate=candidate.source, program=program, fallback=fallback,
                  dependencies=candidate.dependencies, extract_error=None)
    update["trace"] = _step(node, "candidate written", detail, start, tokens)
    return update


def generate(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Ask the model for a new function, showing it the relevant library modules."""
    start = time.monotonic()
    modules = _shown_modules(state)
    library, shown = "", []
    if modules:
        nearest, code = modules[0], ""
        source = nearest.source.strip()
        shown.append("shown: " + ", ".join(m.name for m in modules))
        if len(source) <= runtime.context.settings.module_code_chars:
            code = prompts.MODULE_CODE.format(name=nearest.name, source=source)
            shown[-1] += f" (with the code of {nearest.name})"
        lines = [module_line(m) for m in modules]
        library = prompts.LIBRARY.format(modules=prompts.format_modules(lines), code=code)
    if state.get("insights"):
        shown.append(f"{len(state['insights'])} lesson(s)")
    user = _task_prompt(state, library, _insights_section(state, runtime))
    messages = [{"role": "system", "content": prompts.SYSTEM}, {"role": "user", "content": user}]
    return _ask(state, runtime.context, messages, "generate", start, shown="; ".join(shown))


def _task_prompt(state: SolveState, library: str = "", insights: str = "") -> str:
    task = state["task"]
    return prompts.GENERATE.format(prompt=task.prompt, name=state["entry_point"],
                                   tests=prompts.format_tests([t.source for t in task.tests]),
                                   library=library, insights=insights)


def _insights_section(state: SolveState, runtime: Runtime[SolveContext]) -> str:
    insights = state.get("insights") or []
    if not insights:
        return ""
    return prompts.INSIGHTS.format(lessons=prompts.format_insights(insights))


def _failures(verdict: Verdict, limit: int = 5) -> str:
    lines = []
    for result in verdict.failures[:limit]:
        message = result.message.strip().splitlines()[0] if result.message.strip() else ""
        lines.append(f"- `{result.test}` -> {result.error_type}: {message[:300]}")
    if verdict.detail:
        lines.append(f"- {verdict.detail[:300]}")
    return "\n".join(lines)


def repair(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Show the model its failing cases and ask for a fix."""
    start = time.monotonic()
    messages = list(state["messages"][:2])
    last_reply = state["messages"][-1]
    last = state["attempts"][-1]
    if last.extract_error:
        feedback = prompts.EXTRACT_FAILED.format(error=last.extract_error,
                                                 name=state["entry_point"])
    elif len(state["attempts"]) == 1 and (_shown_modules(state) or state.get("insights")):
        # The first answer was written with library modules or lessons in view and failed.
        # Small models are misled by near-but-different modules (on MBPP the agent's first
        # attempts passed less often than without a library): ask exactly as without a
        # library, greedily, so such a task costs one call more than it would have, not a
        # chain of repairs.
        messages = [messages[0], {"role": "user", "content": _task_prompt(state)}]
        return _ask(state, runtime.context, messages, "repair", start, sample=False,
                    phase="retry")
    elif len(state["attempts"]) >= 2:
        # A repair failed too. Small models stay anchored on code they see (on MBPP, repairs
        # after the first never passed): start afresh from the task and its tests alone,
        # without the library modules and lessons the failed attempts saw.
        restart = prompts.RESTART.format(failures=_failures(last.verdict),
                                         name=state["entry_point"])
        messages = [messages[0], {"role": "user", "content": _task_prompt(state) + restart}]
        return _ask(state, runtime.context, messages, "repair", start)
    else:
        feedback = prompts.REPAIR.format(source=state["candidate"].strip(),
                                         failures=_failures(last.verdict),
                                         name=state["entry_point"],
                                         insights=_insights_section(state, runtime))
    messages += [last_reply, {"role": "user", "content": feedback}]
    return _ask(state, runtime.context, messages, "repair", start)


def validate(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Run the candidate with its dependencies against the task's tests in the sandbox."""
    start = time.monotonic()
    origin = state.get("phase", "generate")
    if not state.get("program"):
        attempt = Attempt(source="", verdict=None, origin=origin,
                          extract_error=state.get("extract_error") or "no candidate")
        return {"attempts": [attempt], "solved": False,
                "trace": _step("validate", "nothing to run", attempt.extract_error, start)}
    cheat = special_cases_tests(state["candidate"], state["task"].tests)
    if cheat:
        reason = f"the function special-cases the test inputs instead of solving the task: {cheat}"
        attempt = Attempt(source=state["program"], verdict=None, origin=origin,
                          extract_error=reason)
        return {"attempts": [attempt], "solved": False,
                "trace": _step("validate", "rejected", reason, start)}
    ctx = runtime.context
    verdict = run_sandbox(state["program"], state["task"].tests, ctx.limits)
    chosen: dict[str, Any] = {}
    fallback = state.get("fallback")
    if not verdict.passed and fallback:
        # The library's version of a function the model also wrote did not fit: try the
        # model's own copy before calling it a failure.
        own = run_sandbox(fallback["program"], state["task"].tests, ctx.limits)
        if own.passed:
            verdict, chosen = own, dict(fallback)
            state = {**state, **chosen}
    if verdict.passed:
        rejections = ctx.runtime.validate(state["program"], state["entry_point"],
                                          [t.source for t in state["task"].tests])
        if rejections:
            reason = "it passes the tests but a validator rejected it: " + "; ".join(rejections)
            attempt = Attempt(source=state["program"], verdict=verdict, origin=origin,
                              extract_error=reason)
            return {"attempts": [attempt], "solved": False,
                    "trace": _step("validate", "rejected", reason, start)}
    attempt = Attempt(source=state["program"], verdict=verdict, origin=origin)
    passed = sum(r.passed for r in verdict.results)
    return {**chosen, "attempts": [attempt], "solved": verdict.passed,
            "trace": _step("validate", "passed" if verdict.passed else "failed",
                           f"{passed}/{len(verdict.results)} tests passed ({verdict.ended}, "
                           f"{verdict.isolation})", start)}


def store(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Save the verified function in the library (a new version only if it keeps old tests)."""
    start = time.monotonic()
    ctx = runtime.context
    if ctx.library is None:
        return {"stored": None, "trace": _step("store", "skipped", "library disabled")}
    task, name = state["task"], state["entry_point"]
    source = state["candidate"]
    tests = [t.source for t in task.tests]
    previous = ctx.library.get(name)
    detail = ""
    if previous is not None and previous.id != module_id(source):
        program = state["program"]
        from agentlib.model import TestCase

        old_tests = [TestCase(t) for t in previous.tests]
        if old_tests and not run_sandbox(program, old_tests, ctx.limits).passed:
            n = 2
            while ctx.library.get(f"{name}_{n}") is not None:
                n += 1
            new_name = f"{name}_{n}"
            source = rename_source(source, name, new_name)
            tests = [rename_source(t, name, new_name).strip() for t in tests]
            detail = f"{name} exists and this version fails its tests: stored as {new_name}"
            name = new_name
        else:
            detail = f"supersedes {name} v{previous.version} (passes its tests too)"
    llm = ctx.runtime.loaded_llm
    module = Module(
        id=module_id(source), name=name, source=source, signature=signature(source, name),
        docstring=docstring(source, name), tests=tests,
        dependencies=list(state.get("dependencies", [])), task_prompt=task.prompt,
        task_id=task.id, backend=ctx.settings.llm, model=llm.name if llm else "",
        created_at=time.time())
    stored = ctx.library.add(module)
    return {"stored": stored, "trace": _step("store", f"stored {stored.name} v{stored.version}",
                                             detail, start)}


def route_after_reuse(state: SolveState) -> Literal["finish", "generate"]:
    return "finish" if state.get("reused") else "generate"


def route_after_validate(state: SolveState) -> Literal["store", "repair", "reflect"]:
    if state.get("solved"):
        return "store"
    if len(state.get("attempts", [])) >= state["max_attempts"]:
        return "reflect"
    return "repair"


def route_after_store(state: SolveState) -> Literal["reflect", "finish"]:
    """Reflect on a task that was solved only after a failure the model fixed.

    Not when the plain retry passed: the same prompt without the library's modules and
    lessons passed at once, so the failure came from what was shown, not from a mistake of
    programming (the lessons written from such pairs were generic, and each cost a call).
    """
    attempts = state.get("attempts", [])
    return "reflect" if len(attempts) > 1 and attempts[-1].origin != "retry" else "finish"


def _first_failure(attempt: Attempt) -> str:
    if attempt.extract_error:
        return attempt.extract_error
    return _failures(attempt.verdict) if attempt.verdict else "no result"


def reflect(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Turn the first failure (later fixed, or never) into one stored, general insight."""
    from agentlib.agent.reflect import ReflectionError, parse_reflection

    start = time.monotonic()
    ctx = runtime.context
    if ctx.library is None or not ctx.settings.use_insights:
        return {"learned": None, "trace": _step("reflect", "skipped", "insights disabled")}
    attempts = [a for a in state.get("attempts", []) if a.origin != "reuse"]
    if not attempts or not attempts[0].source:
        return {"learned": None, "trace": _step("reflect", "skipped", "no failed attempt")}
    task, shown = state["task"], state.get("insights") or []
    outcome = (prompts.REFLECT_FIXED.format(fixed=state["candidate"].strip())
               if state.get("solved") else prompts.REFLECT_UNSOLVED)
    misled = (prompts.REFLECT_MISLED.format(lessons=prompts.format_insights(shown))
              if shown else "")
    user = prompts.REFLECT.format(prompt=task.prompt,
                                  tests=prompts.format_tests([t.source for t in task.tests]),
                                  first=attempts[0].source.strip(),
                                  failures=_first_failure(attempts[0]), outcome=outcome,
                                  misled=misled)
    completion = ctx.llm().complete([{"role": "system", "content": prompts.SYSTEM_REFLECT},
                                     {"role": "user", "content": user}])
    update: dict[str, Any] = {"llm_calls": 1, "prompt_tokens": completion.prompt_tokens,
                              "completion_tokens": completion.completion_tokens}
    tokens = completion.prompt_tokens + completion.completion_tokens
    try:
        reflection = parse_reflection(completion.text, task_prompt=task.prompt,
                                      entry_point=state["entry_point"], shown=len(shown))
    except ReflectionError as exc:
        update.update(learned=None, trace=_step("reflect", "discarded", str(exc), start, tokens))
        return update
    query = _query(task)
    for number in reflection.misled:
        ctx.library.insights.update_counters(shown[number - 1].id, query, misled=1)
    near = ctx.library.insights.search(insight_text(asdict(reflection.insight)), 1)
    if near and near[0][1] < 0.08:
        kept = ctx.library.insights.merge(near[0][0].id, reflection.insight)
        update.update(learned=None, trace=_step(
            "reflect", "duplicate", f"merged into {near[0][0].id} ({near[0][0].taxonomy}): "
            f"the same lesson{'' if kept else ' (since removed)'}", start, tokens))
        return update
    stored = ctx.library.insights.add(reflection.insight)
    update.update(learned=stored, trace=_step(
        "reflect", f"learned {stored.taxonomy}", stored.condition, start, tokens))
    return update


def finish(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Count the shown insights' help (the task was solved on its first attempt) and, without
    reflection, their misleading (the plain retry without them passed)."""
    ctx = runtime.context
    shown = state.get("insights") or []
    if ctx.library is not None and shown:
        attempts = state.get("attempts", [])
        solved = bool(state.get("solved")) and not state.get("reused")
        first_ok = solved and len(attempts) == 1
        # The same prompt without the lessons passed where the prompt with them failed; with
        # no module shown beside them, the lessons are what led the first attempt astray.
        misled = (solved and len(attempts) == 2 and attempts[-1].origin == "retry"
                  and not _shown_modules(state))
        query = _query(state["task"])
        for insight in shown:
            ctx.library.insights.update_counters(insight.id, query, retrieved=1,
                                                 helped=int(first_ok), misled=int(misled))
    return {}
