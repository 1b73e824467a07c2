"""The text heuristics of search: what a task searches with, what a module is found by.

Both are embedded by the library's embedder; changing them changes every stored vector
(`agentlib lib check` notices, `agentlib lib reindex` re-embeds).
"""

from __future__ import annotations

import re

from agentlib.model import Module

# The request wording most task prompts open with ("Write a python function to ..."). Left in,
# it makes unrelated tasks look near: on MBPP, 44% of validation tasks had a train task within
# cosine distance 0.4 with it, 26% without; related tasks of the bundled stream stay as near.
_REQUEST = re.compile(
    r"^\s*(?:please\s+)?(?:write|create|implement|define|make|develop|code|build|give)\s+"
    r"(?:(?:a|an|the|me)\s+)*(?:python3?\s+|small\s+|simple\s+)*"
    r"(?:function|program|method|routine|script|lambda(?:\s+function)?)\b"
    r"(?:\s+(?:called|named))?(?:\s+(?:to|that|which|for)\b)?", re.IGNORECASE)


def task_gist(prompt: str) -> str:
    """The prompt without its opening request wording: what the task is about."""
    return _REQUEST.sub("", prompt, count=1).strip() or prompt.strip()


def query_text(prompt: str, tests: list[str]) -> str:
    """The text a task searches the library with: its gist and its tests."""
    return "\n".join([task_gist(prompt), *tests])


def embedding_text(module: Module) -> str:
    """The text a module is found by: signature, docstring and the gist of its task."""
    return f"{module.signature}\n{module.docstring}\n{task_gist(module.task_prompt)}".strip()
