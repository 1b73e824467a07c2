"""`Agent`: the small Python API around the graph."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Callable, get_origin, get_type_hints

from agentlib.agent.policy import route_after_reuse, route_start
from agentlib.agent.sanity import check_tests
from agentlib.agent.views import result
from agentlib.code import infer_entry_point
from agentlib.config import Settings
from agentlib.errors import AgentlibError, TaskFormatError
from agentlib.llm import LLM
from agentlib.model import SolveResult, Task

if TYPE_CHECKING:
    from agentlib.runtime import Runtime


class Agent:
    """Solve tasks against a library, creating the LLM only when a task needs it.

    Give it the process's `Runtime`, or settings (and optionally an LLM, library or plugin
    manager to use instead of the configured ones) to build one from.
    """

    def __init__(self, runtime: "Runtime | Settings | None" = None, *, llm: LLM | None = None,
                 library: Any | None = None, pm: Any | None = None) -> None:
        from agentlib.runtime import Runtime

        if isinstance(runtime, Runtime):
            if llm is not None or library is not None or pm is not None:
                raise TypeError("give the LLM, library and plugin manager to the Runtime, "
                                "not beside it")
            self.runtime = runtime
        else:
            self.runtime = Runtime(runtime, llm=llm, library=library, pm=pm)
        self._graph = None
        self._graph_checkpointer = None
        self.checkpointer: Any | None = None  # set by batch runs (SQLite) to make them resumable

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def library(self):
        """The library, opened on first use; None when the library is disabled."""
        return self.runtime.library

    def llm(self) -> LLM:
        """The configured LLM backend, created (and loaded) on first use."""
        return self.runtime.llm()

    def _compiled(self):
        if self._graph is None or self._graph_checkpointer is not self.checkpointer:
            from agentlib.agent.graph import build_graph

            self._graph = build_graph().compile(checkpointer=self.checkpointer)
            self._graph_checkpointer = self.checkpointer
        return self._graph

    def solve(self, task: Task, on_token: Callable[[str], None] | None = None,
              thread_id: str | None = None,
              on_step: Callable[[str, dict[str, Any]], None] | None = None) -> SolveResult:
        """Solve one task: reuse, or generate + validate + repair, then store. A task without
        tests has them proposed by the model first (unless the `propose_tests` setting is off).

        Without a checkpointer, a task with tests runs the graph's first nodes as plain
        functions (`look_in_library`), and the graph is built only when no stored module
        passed.
        With one, `thread_id` names the task's checkpoint thread: a task whose
        graph already finished is not run again, one that stopped midway continues.
        `on_step(node, update)` is called after each graph node with the state update it
        returned. Tests that no function can pass are refused first (`agent.sanity`).
        """
        from agentlib.agent.context import SolveContext

        start = time.monotonic()
        if not task.tests and not self.settings.propose_tests:
            raise TaskFormatError(
                f"task {task.id or task.prompt[:40]!r} has no tests and proposing them is off "
                "(--no-propose, or the propose_tests setting): give tests, or write examples "
                "in the text such as `f(1) => 2`")
        entry = task.entry_point or infer_entry_point([t.source for t in task.tests])
        if not entry and task.tests:  # without tests, `propose` names the function
            raise TaskFormatError(
                f"task {task.id or task.prompt[:40]!r}: cannot tell which function the tests "
                "call; give `entry_point`")
        check_tests(task.tests, f"task {task.id or task.prompt[:40]!r}", entry)
        context = SolveContext(self.runtime, on_token=on_token)
        initial = {"task": task, "entry_point": entry or "",
                   "max_attempts": self.settings.attempts,
                   "attempts": [], "steps": []}
        config: dict[str, Any] = {"recursion_limit": 100}
        if self.checkpointer is None and route_start(initial, NodeRuntime(context)) == "retrieve":
            state, route = look_in_library(initial, context, on_step)
            if route != "finish":
                state = self._rest_of_graph(state, context, config, on_step)
        elif self.checkpointer is None:  # tests to propose first: the whole graph
            state = _run(self._compiled(), initial, context, config, on_step)
        else:
            config["configurable"] = {"thread_id": thread_id or task.id or uuid.uuid4().hex}
            state = self._resume(self._compiled(), initial, context, config, on_step)
        self._flush_counters()
        return result(task, state.get("entry_point") or entry, state, time.monotonic() - start)

    @staticmethod
    def _resume(graph: Any, initial: dict[str, Any], context: Any, config: dict[str, Any],
                on_step: Callable[[str, dict[str, Any]], None] | None) -> dict[str, Any]:
        """Run a checkpointed task: finish it from its last checkpoint, or start it.

        A graph has finished only when its last checkpoint has no task left to run. `next`
        is not the test: it lists only tasks without writes, and a run killed after a step's
        writes were saved but before the next checkpoint has `next == ()` with a task still
        pending (`tasks`); that one must run on.
        """
        snapshot = graph.get_state(config)
        if snapshot.values and not snapshot.tasks:
            return snapshot.values  # finished before a crash: not redone
        if snapshot.tasks:
            return _run(graph, None, context, config, on_step)  # continue
        return _run(graph, initial, context, config, on_step)

    def _flush_counters(self) -> None:
        """Write the usage counters this solve gathered (one write); a failure keeps them
        pending for the next solve or the process's exit."""
        library = self.library
        if library is None:
            return
        try:
            library.flush_counters()
        except AgentlibError as exc:
            import logging

            logging.getLogger("agentlib.library").warning(
                "usage counters not written yet: %s", exc)

    def _rest_of_graph(self, state: dict[str, Any], context: Any, config: dict[str, Any],
                       on_step: Callable[[str, dict[str, Any]], None] | None) -> dict[str, Any]:
        """Run the graph on from `try_reuse`, from the state the first nodes produced: given
        that state, `policy.route_start` goes where `try_reuse`'s router would have."""
        return _run(self._compiled(), state, context, config, on_step)

@dataclass(frozen=True)
class NodeRuntime:
    """What the nodes use of LangGraph's `Runtime` when called directly: the context."""

    context: Any


def look_in_library(initial: dict[str, Any], context: Any,
                    on_step: Callable[[str, dict[str, Any]], None] | None
                    ) -> tuple[dict[str, Any], str]:
    """Run the graph's first nodes, `retrieve` and `try_reuse`, as plain functions, and
    `finish` when `policy.route_after_reuse` says a stored module solved the task; return
    the state and the router's answer.

    This is the graph's own path for a reused task, node for node, without building the
    graph (importing LangGraph costs ~0.7 s, more than the rest of a reused solve).
    """
    from agentlib.agent.learn import finish
    from agentlib.agent.retrieve import retrieve, try_reuse

    runtime = NodeRuntime(context)
    state = dict(initial)
    for node, function in (("retrieve", retrieve), ("try_reuse", try_reuse)):
        state = _step(state, node, function(state, runtime), on_step)
    route = route_after_reuse(state, runtime)
    if route == "finish":
        state = _step(state, "finish", finish(state, runtime), on_step)
    return state, route


def _step(state: dict[str, Any], node: str, update: dict[str, Any] | None,
          on_step: Callable[[str, dict[str, Any]], None] | None) -> dict[str, Any]:
    """The state after a node's update, through the reducers `SolveState` declares."""
    reducers = _reducers()
    merged = dict(state)
    for key, value in (update or {}).items():
        merged[key] = reducers[key](merged[key], value) if key in reducers and key in merged \
            else value
    if on_step is not None:
        on_step(node, update or {})
    return merged


def _reducers() -> dict[str, Callable[[Any, Any], Any]]:
    """{key: reducer} of the state keys that accumulate (`Annotated[..., reducer]`)."""
    from agentlib.agent.state import SolveState

    hints = get_type_hints(SolveState, include_extras=True)
    return {key: hint.__metadata__[0] for key, hint in hints.items()
            if get_origin(hint) is Annotated and callable(hint.__metadata__[0])}


def _run(graph: Any, initial: Any, context: Any, config: dict[str, Any],
         on_step: Callable[[str, dict[str, Any]], None] | None) -> dict[str, Any]:
    """Run the graph to its end (as `invoke` does), telling `on_step` about each node."""
    state: dict[str, Any] = {}
    for mode, chunk in graph.stream(initial, context=context, config=config,
                                    stream_mode=["updates", "values"]):
        if mode == "values":
            state = chunk
        elif on_step is not None:
            for node, update in chunk.items():
                if not node.startswith("__"):
                    on_step(node, update or {})
    return state


__all__ = ["Agent", "AgentlibError"]
