"""The agent: a LangGraph graph that reuses, composes, generates, validates and repairs."""

from agentlib.agent.api import Agent

__all__ = ["Agent"]
