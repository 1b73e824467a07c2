"""What a run needs besides its state: settings and the layers it drives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from agentlib.config import Settings
from agentlib.llm import LLM
from agentlib.sandbox import Limits


@dataclass
class SolveContext:
    """Run-time dependencies of the graph; the LLM is created only when first needed."""

    settings: Settings
    library: Any | None  # agentlib.library.store.Library, None with --no-library
    llm_factory: Callable[[], LLM]
    limits: Limits = field(default_factory=Limits)
    on_token: Callable[[str], None] | None = None
    validators: Callable[[str, str, list[str]], list[str]] | None = None
    """Plugin validators: (program, entry_point, tests) -> rejections ("name: reason")."""
    _llm: LLM | None = None

    def llm(self) -> LLM:
        if self._llm is None:
            self._llm = self.llm_factory()
        return self._llm
