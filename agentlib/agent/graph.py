"""The agent graph (who decides each edge: `policy`).

    retrieve → try_reuse ─┬─ reused ──────────────────────────────────────────→ finish
                          └→ generate → validate ─┬─ passed → store ─┬─────────→ finish
                                  ↑               │    ↑             └→ reflect → finish
                                  │               │    └─ weak tests: cross_check ─┐
                                  │               │     disagrees (once): counterexample
                                  │               │                  → validate …
                     repair ┐     │               ├─ out of attempts → reflect → finish
                     retry  ├─────┘ ←─────────────┘  otherwise: policy.next_kind
                     restart┘
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from agentlib.agent import ask, cross_check, learn, policy, retrieve, validate
from agentlib.agent.context import SolveContext
from agentlib.agent.state import SolveState


def build_graph() -> StateGraph:
    """Return the uncompiled graph; compile it at the call site (with a checkpointer if any)."""
    graph = StateGraph(SolveState, context_schema=SolveContext)
    graph.add_node("retrieve", retrieve.retrieve)
    graph.add_node("try_reuse", retrieve.try_reuse)
    graph.add_node("generate", ask.generate)
    graph.add_node("repair", ask.repair)
    graph.add_node("retry", ask.retry)
    graph.add_node("restart", ask.restart)
    graph.add_node("validate", validate.validate)
    graph.add_node("cross_check", cross_check.cross_check)
    graph.add_node("counterexample", cross_check.counterexample)
    graph.add_node("store", learn.store)
    graph.add_node("reflect", learn.reflect)
    graph.add_node("finish", learn.finish)
    graph.add_edge(START, "retrieve")
    graph.add_edge("retrieve", "try_reuse")
    graph.add_conditional_edges("try_reuse", policy.route_after_reuse)
    for asking in ("generate", "repair", "retry", "restart", "counterexample"):
        graph.add_edge(asking, "validate")
    graph.add_conditional_edges("validate", policy.route_after_validate)
    graph.add_conditional_edges("cross_check", policy.route_after_cross_check)
    graph.add_conditional_edges("store", policy.route_after_store)
    graph.add_edge("reflect", "finish")
    graph.add_edge("finish", END)
    return graph
