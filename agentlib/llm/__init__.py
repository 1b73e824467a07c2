"""The LLM protocol and its records; backends are registered through the `register_llms` hook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, runtime_checkable

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": "..."}
TokenCallback = Callable[[str], None]


@dataclass
class Completion:
    """One model answer with its cost."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0


@runtime_checkable
class LLM(Protocol):
    """A chat model: messages in, one completion out."""

    name: str

    def complete(self, messages: list[Message], **options: Any) -> Completion:
        """Answer the conversation. Options: max_tokens, temperature, stop."""
        ...
