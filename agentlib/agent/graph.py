"""The agent graph.

retrieve → try_reuse → (finish | generate) → validate → (store | repair ↺ | reflect);
store → (reflect when a failure came first | finish); reflect → finish.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from agentlib.agent import nodes
from agentlib.agent.context import SolveContext
from agentlib.agent.state import SolveState


def build_graph() -> StateGraph:
    """Return the uncompiled graph; compile it at the call site (with a checkpointer if any)."""
    graph = StateGraph(SolveState, context_schema=SolveContext)
    graph.add_node("retrieve", nodes.retrieve)
    graph.add_node("try_reuse", nodes.try_reuse)
    graph.add_node("generate", nodes.generate)
    graph.add_node("validate", nodes.validate)
    graph.add_node("repair", nodes.repair)
    graph.add_node("store", nodes.store)
    graph.add_node("reflect", nodes.reflect)
    graph.add_node("finish", nodes.finish)
    graph.add_edge(START, "retrieve")
    graph.add_edge("retrieve", "try_reuse")
    graph.add_conditional_edges("try_reuse", nodes.route_after_reuse)
    graph.add_edge("generate", "validate")
    graph.add_conditional_edges("validate", nodes.route_after_validate)
    graph.add_edge("repair", "validate")
    graph.add_conditional_edges("store", nodes.route_after_store)
    graph.add_edge("reflect", "finish")
    graph.add_edge("finish", END)
    return graph
