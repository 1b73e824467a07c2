"""Looking in the library first: `retrieve` finds near modules and lessons, `try_reuse` runs
the modules that can take the tests' arguments and reuses the first that passes them all —
or, failing that, a near module called through an adapted interface (`agent.adapt`)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable

from agentlib.agent.adapt import Adaptation, adaptations
from agentlib.agent.context import SolveContext
from agentlib.agent.policy import hidden_reason, insight_misleads
from agentlib.agent.state import SolveState
from agentlib.agent.unconfirmed import reuse_notice
from agentlib.code import Call, accepts, defined_functions, find_function, first_call
from agentlib.errors import StoreError
from agentlib.library.insights import select_insights
from agentlib.library.text import query_text, task_gist
from agentlib.model import Attempt, Hit, Module, Task, TraceStep, Verdict
from agentlib.sandbox import run as run_sandbox

if TYPE_CHECKING:
    from langgraph.runtime import Runtime  # the nodes need only its `context`

ARCHIVE_K = 2  # pruned modules tried for reuse per task (like retrieved ones, at any distance)


def step(node: str, decision: str, detail: str, start: float, state: SolveState,
         tokens: int = 0) -> list[TraceStep]:
    """A trace step of a node that is not an attempt, placed after the attempts so far."""
    return [TraceStep(node=node, decision=decision, detail=detail,
                      wall_s=round(time.monotonic() - start, 4), tokens=tokens,
                      after=len(state.get("attempts") or []))]


def search_text(task: Task) -> str:
    """The text a task searches the library and its insights with."""
    return query_text(task.prompt, [t.source for t in task.tests])


def wrapper_source(entry_point: str, target: str) -> str:
    """A thin module that exposes a stored function under the name a task asks for."""
    return (f"def {entry_point}(*args, **kwargs):\n"
            f"    \"\"\"Call {target}.\"\"\"\n"
            f"    return {target}(*args, **kwargs)\n")


def retrieve(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Find the library modules nearest to the task, and the lessons to show."""
    start = time.monotonic()
    library = runtime.context.library
    if library is None:
        return {"hits": [], "steps": step("retrieve", "skipped", "library disabled", start, state)}
    task, settings = state["task"], runtime.context.settings
    query = search_text(task)
    vector = library.embed(query) if library.count() else None
    found = library.search_vector(vector, settings.top_k) if vector is not None else []
    detail = ", ".join(f"{m.name} ({d:.2f})" for m, d in found) or "library is empty"
    # Pruned modules stay out of prompts, but one that passes a new task's tests comes back.
    active = {m.name for m, _ in found}
    archived = [] if vector is None else [
        m for m, _ in library.search_vector(vector, ARCHIVE_K, {"status": "pruned"})
        if m.name not in active and library.get(m.name) is None]
    hidden = [f"{m.name} ({why})" for m, d in found if d <= settings.module_max_distance
              and (why := hidden_reason(m, task)) is not None]
    if hidden:
        detail += "; not shown: " + ", ".join(hidden)
    insights = []
    if settings.use_insights and settings.insight_k > 0:
        nearest = library.insights.search(query, 2 * settings.insight_k)
        near = select_insights(nearest, task_gist(task.prompt), 2 * settings.insight_k,
                               settings.insight_max_distance)
        misleading = [i.taxonomy for i in near if insight_misleads(i)]
        insights = [i for i in near if not insight_misleads(i)][:settings.insight_k]
        if insights:
            detail += "; insights: " + ", ".join(i.taxonomy for i in insights)
        if misleading:
            detail += "; not shown (misled more than helped): " + ", ".join(misleading)
    if archived:
        detail += "; archived: " + ", ".join(m.name for m in archived)
    return {"hits": [Hit(m, d) for m, d in found], "insights": insights, "archived": archived,
            "steps": step("retrieve", f"{len(found)} module(s), {len(insights)} insight(s)",
                          detail, start, state)}


def _run_all(work: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """`work` on every item, two sandbox runs at a time, results in the items' order."""
    pool = ThreadPoolExecutor(max_workers=2)
    try:
        done = list(pool.map(work, items))
    except KeyboardInterrupt:  # return to the user at once; running checks end on their own
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return done


Adapted = tuple[Module, Adaptation, str, str, Verdict]
"""A module reused through an adapted wrapper: the adaptation, the wrapper, the program."""


def _adapted(ctx: SolveContext, task: Task, entry: str, wanted: Call,
             modules: list[Module]) -> tuple[Adapted | None, int]:
    """The first module (nearest first) that passes the tests through an adapted wrapper,
    and how many wrappers were run."""
    runs = 0
    for module in modules:
        function = find_function(module.source, module.name)
        if function is None or module.name == entry:
            continue
        try:
            base = ctx.library.program_for(module)
        except StoreError:
            continue
        if entry in defined_functions(base):  # the wrapper would replace a dependency
            continue
        tried = [(a, w, f"{base}\n\n{w}") for a in adaptations(function, wanted)
                 if (w := a.wrapper(entry, module.name, function)) is not None]
        verdicts = _run_all(lambda program: run_sandbox(program, task.tests, ctx.limits),
                            [program for _, _, program in tried])
        runs += len(tried)
        for (adaptation, wrapper, program), verdict in zip(tried, verdicts, strict=True):
            if verdict.passed:
                return (module, adaptation, wrapper, program, verdict), runs
    return None, runs


def try_reuse(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Run retrieved modules against the task's tests; reuse the first that passes them all.

    When none does, the near ones (within `module_max_distance`) are tried through adapted
    wrappers (`agent.adapt`: another argument order, a keyword for a position, a renamed
    keyword); the first wrapper that passes every test is reused.
    """
    start = time.monotonic()
    ctx = runtime.context
    task, entry = state["task"], state["entry_point"]
    wanted = first_call([t.source for t in task.tests], entry)
    hits = state.get("hits") or []
    retrieved = [h.module for h in hits]
    fitting = []
    for module in retrieved + (state.get("archived") or []):
        function = find_function(module.source, module.name)
        if wanted is None or function is None or accepts(function, wanted):
            fitting.append(module)

    def attempt(module: Module) -> tuple[Module, str, Verdict | None]:
        try:
            program = ctx.library.program_for(module)
        except StoreError:  # an archived module whose dependency is gone
            return module, "", None
        if module.name != entry:
            program += "\n\n" + wrapper_source(entry, module.name)
        return module, program, run_sandbox(program, task.tests, ctx.limits)

    outcomes = _run_all(attempt, fitting)
    for module in retrieved:
        ctx.library.update_counters(module.id, times_retrieved=1)
    outcomes = [(m, p, v) for m, p, v in outcomes if v is not None]
    # Among the modules that pass, a confirmed one first (nearest first otherwise).
    outcomes.sort(key=lambda o: not (o[2].passed
                                     and o[0].verification.get("status") == "confirmed"))
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
            own = module.name == entry
            notes, warnings = reuse_notice(ctx.library, module, task, own)
            return {"attempts": [Attempt(
                kind="reuse", candidate=module.source if own else wrapper_source(entry, module.name),
                dependencies=[] if own else [module.name], program=program, verdict=verdict,
                module_id=module.id, module=module.name,
                notes=[f"{how}: passed {len(verdict.results)} test(s) with zero LLM calls",
                       *notes], asked_s=round(time.monotonic() - start, 4))],
                "warnings": warnings}
        ctx.library.update_counters(module.id, times_failed=1)
    near = [h.module for h in hits if h.distance <= ctx.settings.module_max_distance]
    adapted, runs = (None, 0) if wanted is None else _adapted(ctx, task, entry, wanted, near)
    if adapted is not None:
        module, adaptation, wrapper, program, verdict = adapted
        ctx.library.update_counters(module.id, times_reused=1)
        notes, warnings = reuse_notice(ctx.library, module, task, own=False)
        return {"attempts": [Attempt(
            kind="reuse", candidate=wrapper, dependencies=[module.name], program=program,
            verdict=verdict, module_id=module.id, module=module.name,
            notes=[f"reused through an adapted call {entry}{adaptation.describe(module.name)}: "
                   f"passed {len(verdict.results)} test(s) with zero LLM calls", *notes],
            asked_s=round(time.monotonic() - start, 4))], "warnings": warnings}
    adapting = f"; {runs} adapted call(s) failed" if runs else ""
    if not outcomes:
        return {"steps": step("try_reuse", "nothing to try" if not runs else "no module passed",
                              "no retrieved module has a fitting signature" + adapting,
                              start, state)}
    tried = ", ".join(f"{m.name}: {len(v.failures)} failing" for m, _, v in outcomes)
    return {"steps": step("try_reuse", "no module passed", tried + adapting, start, state)}
