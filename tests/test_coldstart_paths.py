"""The reuse path without LangGraph (`Agent.solve` runs retrieve and try_reuse as plain
functions, without importing LangGraph) gives what the full graph gives: the same result record, trace, steps and counters;
when no stored module passes, the graph goes on from there without a second sandbox run.

Real sandbox, real Chroma and MiniLM in tmp_path; the reused solves make no LLM call. The
not-reused case uses a scripted LLM (the test is about the path through the graph, not the
model's answer).
"""

from __future__ import annotations

import subprocess
import sys

import scenarios
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from agentlib.agent import Agent
from agentlib.agent.batch import ALLOWED_TYPES
from agentlib.config import Settings
from agentlib.library.store import Library
from agentlib.model import Insight


def _timeless(value):
    """A result record without what is measured (wall times, durations, peak memory)."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items()
                if not (k.endswith(("_s", "_mb")) or k in ("duration", "elapsed"))}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def _library(path, embedder) -> Library:
    library = Library(str(path), embedder)
    library.add(scenarios.add_module())
    library.insights.add(Insight(id="", taxonomy="arithmetic/sums",
                                 condition="the task returns the total of two numbers",
                                 explanation="add the two arguments; no rounding"))
    return library


class Scripted:
    """Answers every request with the same correct function (counts the calls)."""

    name = "scripted"

    def __init__(self, text: str) -> None:
        self.text, self.calls = text, 0

    def complete(self, messages, **options):
        from agentlib.llm import Completion

        self.calls += 1
        return Completion(self.text, prompt_tokens=10, completion_tokens=5)


def _solve_both_ways(tmp_path, embedder, builtin_pm, task, llm_text, monkeypatch):
    """Solve `task` on two identical libraries: the direct path and the full graph."""
    from agentlib.agent import retrieve, validate

    runs = {"reuse": 0, "validate": 0}
    real_reuse_run, real_validate_run = retrieve.run_sandbox, validate.run_sandbox

    def counting(kind, real):
        def run(*args, **kwargs):
            runs[kind] += 1
            return real(*args, **kwargs)
        return run

    monkeypatch.setattr(retrieve, "run_sandbox", counting("reuse", real_reuse_run))
    monkeypatch.setattr(validate, "run_sandbox", counting("validate", real_validate_run))
    outcomes = {}
    for way in ("direct", "graph"):
        library = _library(tmp_path / way, embedder)
        llm = Scripted(llm_text)
        agent = Agent(Settings(store=str(tmp_path / way), llm="replay"), llm=llm,
                      library=library, pm=builtin_pm)
        if way == "graph":  # a checkpointer: today's full-graph path
            agent.checkpointer = InMemorySaver(
                serde=JsonPlusSerializer(allowed_msgpack_modules=ALLOWED_TYPES))
        steps: list[tuple[str, list[str]]] = []
        runs.update(reuse=0, validate=0)
        result = agent.solve(task, on_step=lambda node, update, seen=steps: seen.append(
            (node, sorted(update))))
        add = library.history("add")[0]
        lesson = library.insights.list()[0]
        outcomes[way] = {
            "record": _timeless(result.to_record()), "steps": steps, "runs": dict(runs),
            "llm_calls": llm.calls,
            "counters": ((add.times_retrieved, add.times_reused, add.times_failed),
                         (lesson.retrieved, lesson.helped, lesson.misled)),
            "stored": sorted(m.name for m in library.list())}
    return outcomes


def test_reused_task_same_record_trace_and_counters_as_the_graph(tmp_path, embedder,
                                                                  builtin_pm, monkeypatch):
    outcomes = _solve_both_ways(tmp_path, embedder, builtin_pm, scenarios.ADD_REPHRASED,
                                "no call expected", monkeypatch)
    direct, graph = outcomes["direct"], outcomes["graph"]
    assert direct["record"]["decision"] == "reused" and direct["llm_calls"] == 0
    assert [s["node"] for s in direct["record"]["trace"]] == ["retrieve", "try_reuse"]
    assert direct["record"]["insights_used"]  # the lesson was shown, and counted by finish
    assert direct == graph
    assert direct["steps"] == [("retrieve", ["archived", "hits", "insights", "steps"]),
                               ("try_reuse", ["attempts", "warnings"]), ("finish", [])]
    assert direct["counters"] == ((1, 1, 0), (1, 0, 0))


def test_not_reused_goes_on_through_the_graph_without_a_second_reuse_run(
        tmp_path, embedder, builtin_pm, monkeypatch):
    reply = "```python\ndef combine(a, b):\n    return a * b\n```"
    outcomes = _solve_both_ways(tmp_path, embedder, builtin_pm, scenarios.MISLEADING, reply,
                                monkeypatch)
    direct, graph = outcomes["direct"], outcomes["graph"]
    assert direct["record"]["decision"] == "created" and direct["llm_calls"] == 1
    # try_reuse's sandbox runs (`add` as it is, then through an adapted interface) happen
    # once: the graph goes on from try_reuse's state and does not run it again
    assert direct["runs"] == graph["runs"] and direct["runs"]["validate"] == 1
    assert [node for node, _ in direct["steps"]].count("try_reuse") == 1
    assert direct["counters"][0] == (1, 0, 1)
    assert "combine" in direct["stored"]
    assert direct == graph


def test_a_reused_solve_imports_neither_langgraph_nor_torch(tmp_path, embedder):
    _library(tmp_path / "lib", embedder)
    code = (
        "import sys, json\n"
        "from agentlib.agent import Agent\n"
        "from agentlib.config import Settings\n"
        "from agentlib.model import Task\n"
        f"settings = Settings(store={str(tmp_path / 'lib')!r}, llm='replay')\n"
        "task = Task.from_asserts('Return the total of two numbers.',\n"
        "                         ['assert add(2, 3) == 5', 'assert add(-1, 1) == 0'])\n"
        "result = Agent(settings).solve(task)\n"
        "print(json.dumps([result.decision, result.llm_calls, sorted(m for m in\n"
        "    ('langgraph', 'torch') if m in sys.modules)]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == '["reused", 0, []]'


def test_the_direct_path_is_the_graph_s_own_start():
    """`Agent.solve`'s direct path (`look_in_library`: retrieve, try_reuse, then finish when
    `route_after_reuse` says so; taken when `route_start` says "retrieve") is what
    `build_graph` wires first; a graph rewired at its
    start fails here, the signal to change `look_in_library` with it."""
    from agentlib.agent import learn, policy, retrieve
    from agentlib.agent.graph import build_graph

    graph = build_graph()
    assert graph.nodes["retrieve"].runnable.func is retrieve.retrieve
    assert graph.nodes["try_reuse"].runnable.func is retrieve.try_reuse
    assert graph.nodes["finish"].runnable.func is learn.finish
    assert graph.branches["__start__"]["route_start"].path.func is policy.route_start
    assert ("retrieve", "try_reuse") in graph.edges
    assert graph.branches["try_reuse"]["route_after_reuse"].path.func is \
        policy.route_after_reuse
