"""The runtime: each service built once, on first use; nothing heavy imported before."""

from __future__ import annotations

import subprocess
import sys

import pytest
import scenarios
from conftest import RECORDINGS

from agentlib.agent import Agent
from agentlib.config import Settings
from agentlib.errors import UsageError
from agentlib.runtime import Runtime


def test_importing_the_cli_and_the_runtime_pulls_in_nothing_heavy():
    code = ("import sys, agentlib.cli, agentlib.runtime, agentlib.agent;"
            "print(sorted(m for m in ('chromadb', 'torch', 'langgraph', 'xllamacpp',"
            " 'sentence_transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_one_backend_look_up_names_what_is_available(builtin_pm):
    runtime = Runtime(Settings(llm="nonsense", embedder="nothing"), pm=builtin_pm)
    assert {"local", "openai", "replay"} <= set(runtime.backends("llm"))
    with pytest.raises(UsageError, match=r"unknown LLM backend 'nonsense'; available: .*replay"):
        runtime.llm()
    with pytest.raises(UsageError, match=r"unknown embedder 'nothing'; available: minilm"):
        runtime.embedder()


def test_services_are_built_once_and_shared_by_a_derived_runtime(tmp_path, builtin_pm):
    settings = Settings(store=str(tmp_path / "s"), llm="replay",
                        recordings=str(RECORDINGS / "agent.json"))
    runtime = Runtime(settings, pm=builtin_pm)
    assert runtime.loaded_llm is None
    assert runtime.library is runtime.library and runtime.llm() is runtime.llm()
    same = runtime.derive()
    assert same.settings is settings and same.llm() is runtime.llm()
    assert same.library is runtime.library and same.embedder() is runtime.embedder()
    other = runtime.derive(store=str(tmp_path / "t"), llm=None)
    assert other.pm is runtime.pm and other.embedder() is runtime.embedder()
    assert other.library is not runtime.library and other.library.location.endswith("t")
    off = runtime.derive(use_library=False)
    assert off.library is None


def test_solving_builds_one_plugin_manager_and_reuse_never_builds_the_llm(
        tmp_path, monkeypatch):
    import agentlib.plugins as plugins

    built = []
    real = plugins.make_plugin_manager

    def counting(*args, **kwargs):
        built.append(1)
        return real(load_entry_points=False)

    monkeypatch.setattr(plugins, "make_plugin_manager", counting)
    settings = Settings(store=str(tmp_path / "s"), llm="replay",
                        recordings=str(RECORDINGS / "agent.json"))
    runtime = Runtime(settings)
    first = Agent(runtime).solve(scenarios.ADD)
    assert first.decision == "created" and len(built) == 1
    fresh = Runtime(settings)  # a new process, in effect: the stored module answers
    again = Agent(fresh).solve(scenarios.ADD_REPHRASED)
    assert (again.decision, again.llm_calls) == ("reused", 0)
    assert fresh.loaded_llm is None and len(built) == 2


def test_an_agent_takes_a_runtime_or_settings_but_not_both_kinds_of_overrides(builtin_pm):
    runtime = Runtime(Settings(), pm=builtin_pm)
    assert Agent(runtime).runtime is runtime
    with pytest.raises(TypeError, match="give the LLM"):
        Agent(runtime, pm=builtin_pm)
