"""What a run needs besides its state: the runtime's services and where tokens stream to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from agentlib.config import Settings
    from agentlib.llm import LLM
    from agentlib.runtime import Runtime
    from agentlib.sandbox import Limits


@dataclass
class SolveContext:
    """Run-time dependencies of the graph (LangGraph's context); the LLM is built only when a
    node first asks for it."""

    runtime: "Runtime"
    on_token: Callable[[str], None] | None = None
    """Where a streamed completion's tokens go (None: not streamed)."""

    @property
    def settings(self) -> "Settings":
        return self.runtime.settings

    @property
    def library(self) -> Any:
        """The library (agentlib.library.store.Library); None with --no-library."""
        return self.runtime.library

    @property
    def limits(self) -> "Limits":
        return self.runtime.limits

    def llm(self) -> "LLM":
        return self.runtime.llm()
