"""agentlib grows a library of verified, reusable Python functions.

    from agentlib import Agent, Task
    result = Agent().solve(Task.from_asserts("Add two numbers.", ["assert add(1, 2) == 3"]))
"""

from __future__ import annotations

from typing import Any

from agentlib.version import __version__

__all__ = ["Agent", "Task", "__version__"]


def __getattr__(name: str) -> Any:  # lazy: importing agentlib stays instant
    if name == "Agent":
        from agentlib.agent import Agent

        return Agent
    if name == "Task":
        from agentlib.model import Task

        return Task
    raise AttributeError(name)
