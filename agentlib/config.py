"""Settings with documented defaults, read from the environment (never at import time)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def agentlib_home() -> Path:
    """Return the agentlib home (models, history): $AGENTLIB_HOME or ~/.local/share/agentlib."""
    env = os.environ.get("AGENTLIB_HOME")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "agentlib"


@dataclass
class Settings:
    """Per-run settings; each field says where its default comes from."""

    store: str = field(default_factory=lambda: os.environ.get("AGENTLIB_STORE", "library_store"))
    """Library location: a directory, or http://HOST:PORT for a Chroma server."""
    llm: str = field(default_factory=lambda: os.environ.get("AGENTLIB_LLM", "local"))
    """LLM backend name (local, openai, replay, or one a plugin registers)."""
    model: str = field(default_factory=lambda: os.environ.get("AGENTLIB_MODEL", "default"))
    """For local: `default`, `small` or a GGUF path. For openai: the model name."""
    base_url: str = field(default_factory=lambda: os.environ.get("AGENTLIB_BASE_URL", ""))
    """For openai: the endpoint, e.g. http://127.0.0.1:8080/v1."""
    recordings: str = field(default_factory=lambda: os.environ.get("AGENTLIB_RECORDINGS", ""))
    """For replay: the recording file."""
    embedder: str = field(default_factory=lambda: os.environ.get("AGENTLIB_EMBEDDER", "minilm"))
    """Embedder name (minilm, or one a plugin registers)."""
    attempts: int = 3
    """Generate + repair attempts before giving up."""
    top_k: int = 5
    """Library modules retrieved per task."""
    use_library: bool = True
    """False: neither retrieve nor store (ablation)."""
    test_timeout_s: float = 5.0
    """Wall-clock limit of one test in the sandbox."""

    def home(self) -> Path:
        return agentlib_home()
