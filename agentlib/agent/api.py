"""`Agent`: the small Python API around the graph."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any, Callable

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

        With a checkpointer, `thread_id` names the task's checkpoint thread: a task whose
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
        graph = self._compiled()
        config: dict[str, Any] = {"recursion_limit": 100}
        if self.checkpointer is None:
            state = _run(graph, initial, context, config, on_step)
        else:
            config["configurable"] = {"thread_id": thread_id or task.id or uuid.uuid4().hex}
            state = self._resume(graph, initial, context, config, on_step)
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
