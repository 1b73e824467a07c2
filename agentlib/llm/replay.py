"""Recorded completions: `ReplayLLM` serves them, `RecordingLLM` records them from a real model.

A recording file is JSON: {key: {"text", "prompt_tokens", "completion_tokens", "model"}}, where
the key is a hash of the messages. A missing recording is an error, never a fallback.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from agentlib.errors import LLMError
from agentlib.llm import LLM, Completion, Message


def messages_key(messages: list[Message]) -> str:
    """Return the stable key of a conversation."""
    data = json.dumps([[m["role"], m["content"]] for m in messages], ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()[:24]


def _load(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise LLMError(f"recording file {path} is not valid JSON: {exc}") from exc


class ReplayLLM:
    """Serve completions recorded from real runs."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = f"replay:{self.path.name}"
        self.recordings = _load(self.path)

    def complete(self, messages: list[Message], **options: Any) -> Completion:
        key = messages_key(messages)
        if key not in self.recordings:
            last = messages[-1]["content"][:200] if messages else ""
            raise LLMError(
                f"no recorded completion {key} in {self.path} for a conversation ending "
                f"{last!r}. Re-record with the real model (see tests/README.md).")
        rec = self.recordings[key]
        return Completion(text=rec["text"], prompt_tokens=rec.get("prompt_tokens", 0),
                          completion_tokens=rec.get("completion_tokens", 0), latency_s=0.0)


class RecordingLLM:
    """Wrap a real LLM and add each completion to a recording file."""

    def __init__(self, inner: LLM, path: str | Path) -> None:
        self.inner = inner
        self.path = Path(path)
        self.name = inner.name

    def complete(self, messages: list[Message], **options: Any) -> Completion:
        completion = self.inner.complete(messages, **options)
        recordings = _load(self.path)
        recordings[messages_key(messages)] = {
            "text": completion.text, "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens, "model": self.inner.name}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".rec-")
        with os.fdopen(fd, "w") as fh:
            json.dump(recordings, fh, indent=1, sort_keys=True, ensure_ascii=False)
        os.replace(tmp, self.path)
        return completion
