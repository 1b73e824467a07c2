"""Shared fixtures. Every test gets its own agentlib home and store under tmp_path.

Real components are used throughout: the bwrap sandbox, Chroma on disk, the MiniLM embedder.
LLM calls come from recordings of real runs (tests/recordings/*.json) through the replay
backend; tests marked `model` run the real small GGUF model.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentlib.config import Settings, agentlib_home

# The developer's (or CI's) agentlib home, where `agentlib models fetch small` put the model;
# read before the per-test isolation below replaces AGENTLIB_HOME.
REAL_HOME = agentlib_home()
RECORDINGS = Path(__file__).parent / "recordings"


def interruptible() -> None:
    """`preexec_fn` of a process a test interrupts with SIGINT: a runner started as a
    background job (`cmd &` in a script) ignores SIGINT, its children inherit that, and Python
    then installs no KeyboardInterrupt handler; this restores the default first."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


TERMINAL_COLUMNS = "120"
"""The width rich renders at in every test (and the CLIs they start), whatever the terminal."""


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Point agentlib's home at tmp_path, drop any AGENTLIB_* setting from outside, fix the
    output width (no assertion may depend on the terminal pytest runs in), and leave out the
    evidence step unless a test asks for it."""
    for key in list(os.environ):
        if key.startswith("AGENTLIB_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AGENTLIB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("COLUMNS", TERMINAL_COLUMNS)
    monkeypatch.delenv("LINES", raising=False)
    # The recorded and scripted scenarios predate the evidence step (each would need one more
    # completion); the tests about that step set cross_check themselves (test_cross_check*).
    monkeypatch.setenv("AGENTLIB_CROSS_CHECK", "never")
    yield


@pytest.fixture(scope="session")
def embedder():
    """The real MiniLM embedder, loaded once per test session."""
    from agentlib.library.embed import MiniLMEmbedder

    return MiniLMEmbedder()


@pytest.fixture
def library(tmp_path, embedder):
    """An empty real Chroma library in tmp_path, closed afterwards."""
    from agentlib.library.store import Library

    opened = Library(str(tmp_path / "store"), embedder)
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def close_libraries():
    """Close every Chroma client a test opened (each holds ~11 file descriptors)."""
    yield
    from agentlib.library.store import close_all

    close_all()


@pytest.fixture
def chroma_server(tmp_path):
    """A real Chroma server (`chroma run`) on a free loopback port, killed afterwards; yields
    its `servers.ChromaServer` (`.url`, `.kill()`, `.start()`)."""
    from servers import ChromaServer

    server = ChromaServer(tmp_path / "server-data", tmp_path / "chroma.log")
    server.start()
    try:
        yield server
    finally:
        from agentlib.library.store import close_all

        close_all()  # before the server goes: closing flushes pending counters
        server.stop()


@pytest.fixture
def builtin_pm():
    """A plugin manager with the built-ins only: agent tests must not depend on which
    plugins happen to be installed (plugin tests load them on purpose)."""
    from agentlib.plugins import make_plugin_manager

    return make_plugin_manager(load_entry_points=False)


@pytest.fixture
def settings(tmp_path):
    return Settings(store=str(tmp_path / "store"), llm="replay", model="small",
                    recordings=str(RECORDINGS / "agent.json"))


@pytest.fixture(scope="session")
def small_model() -> Path:
    """The real small GGUF model; fails (does not skip) when it was not fetched."""
    from agentlib.llm.provision import MODELS

    path = REAL_HOME / "models" / MODELS["small"].filename
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `agentlib models fetch small` first "
                    "(the setup script does)")
    return path
