"""Module packs: `agentlib packs install` re-verifies every entry in the sandbox, then reuse."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import test_plugins_factory as factory

from agentlib.agent import Agent
from agentlib.errors import PluginError
from agentlib.library.packs import install_pack, load_pack
from agentlib.model import Task
from agentlib.plugins import hookimpl, make_plugin_manager
from agentlib.runtime import Runtime

WORKDAYS = Task.from_asserts(
    "Count the working days (Monday to Friday) from a start date up to an end date.",
    ['assert count_workdays("2024-03-04", "2024-03-11") == 5',
     'assert count_workdays("2024-03-08", "2024-03-11") == 1',
     'assert count_workdays("2024-01-01", "2024-02-01") == 23'], id="workdays")


class NoLLM:
    """An LLM that must not be called. This fake is the point of the test, not a shortcut:
    the test is about solving by reuse without any LLM call, so any call fails it."""

    name = "no-llm"

    def complete(self, messages, **options):
        raise AssertionError("the LLM was called, but the task should be solved by reuse")


class HostilePack:
    """A pack plugin registered through the real manager: one good entry, many bad ones."""

    @hookimpl
    def register_module_packs(self, register):
        register("hostile", lambda: [
            {"name": "twice", "source": "def twice(x):\n    return 2 * x\n",
             "tests": ["assert twice(2) == 4", "assert twice(-3) == -6"],
             "docstring": "Double a number."},
            {"name": "wrong", "source": "def wrong(x):\n    return x\n",
             "tests": ["assert wrong(2) == 4"]},
            {"name": "broken", "source": "def broken(x) return x\n",
             "tests": ["assert broken(1) == 1"]},
            {"name": "absent", "source": "def other(x):\n    return x\n",
             "tests": ["assert absent(1) == 1"]},
            {"name": "untested", "source": "def untested(x):\n    return x\n", "tests": []},
            {"name": "snoop", "source": ("def snoop():\n    import os\n"
                                         "    return sorted(os.environ)\n"),
             "tests": ["assert 'OPENAI_API_KEY' in snoop()"]},
            {"name": "spin", "source": "def spin(x):\n    while True:\n        pass\n",
             "tests": ["assert spin(1) == 1"]},
            "not a mapping",
        ])


@pytest.fixture
def hostile_pm():
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(HostilePack(), name="hostile-pack")
    return pm


def _install(library, pm, pack: str, limits=None):
    """Install as `agentlib packs install` does: the runtime's packs and validators."""
    runtime = Runtime(pm=pm, library=library)
    return install_pack(library, runtime.packs, pack, limits=limits, validate=runtime.validate)


def test_only_entries_that_pass_their_tests_in_the_sandbox_are_stored(library, hostile_pm,
                                                                     monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    from agentlib.sandbox import Limits

    report = _install(library, hostile_pm, "hostile", Limits(timeout_s=1.0, cpu_s=1.0))
    assert report.accepted == ["twice"]
    reasons = dict(report.rejected)
    assert set(reasons) == {"wrong", "broken", "absent", "untested", "snoop", "spin",
                            "entry 7"}
    assert "fails its own tests" in reasons["wrong"] and "AssertionError" in reasons["wrong"]
    assert "does not parse" in reasons["broken"]
    assert "does not define a top-level function absent()" in reasons["absent"]
    assert "non-empty list" in reasons["untested"]
    assert "fails its own tests" in reasons["snoop"]  # the sandbox scrubs the environment
    assert "Timeout" in reasons["spin"] or "CPUTimeExceeded" in reasons["spin"]
    assert [m.name for m in library.list()] == ["twice"]
    stored = library.get("twice")
    assert (stored.docstring, stored.backend, stored.model, stored.task_id) == \
        ("Double a number.", "pack", "hostile", "pack:hostile")
    again = _install(library, hostile_pm, "hostile", Limits(timeout_s=1.0, cpu_s=1.0))
    assert again.accepted == [] and again.unchanged == ["twice"]


def test_a_pack_entry_may_not_replace_a_module_it_does_not_match(library, hostile_pm):
    from agentlib.library.packs import PackEntry, module_for

    earlier = "def twice(x):\n    return 0 if x is None else x + x\n"
    library.add(module_for(PackEntry("twice", earlier, ("assert twice(2) == 4",
                                                        "assert twice(None) == 0")), "earlier"))
    report = _install(library, hostile_pm, "hostile")
    assert "would replace the active module twice" in dict(report.rejected)["twice"]
    assert library.get("twice").source == earlier


def test_an_unknown_pack_is_a_clear_error(hostile_pm):
    with pytest.raises(PluginError, match=r"no module pack named 'nope' \(installed packs: "
                                          r"hostile\)"):
        load_pack(Runtime(pm=hostile_pm).packs, "nope")


def test_the_dates_pack_fills_an_empty_library_and_a_date_task_is_reused_without_llm(
        library, settings, monkeypatch):
    monkeypatch.setenv("AGENTLIB_PLUGINS", "pack-dates")  # the installed pack, nothing else
    pm = make_plugin_manager()
    assert library.count() == 0
    report = _install(library, pm, "agentlib-pack-dates")
    assert report.rejected == [] and len(report.accepted) >= 10
    assert len(library.list()) == len(report.accepted)
    result = Agent(settings, llm=NoLLM(), library=library, pm=pm).solve(WORKDAYS)
    assert (result.status, result.decision, result.llm_calls) == ("solved", "reused", 0)
    assert "def business_days_between" in result.program


def test_cli_install_then_solve_by_reuse_while_a_broken_plugin_is_installed(tmp_path):
    site = tmp_path / "site"
    factory.make_plugin(site, "agentlib-broken", "broken", factory.RAISES_IN_HOOK)
    store = str(tmp_path / "store")
    recordings = tmp_path / "empty.json"
    recordings.write_text("{}")  # replay with no recordings: any LLM call is an error
    env = {**os.environ, "PYTHONPATH": str(site), "AGENTLIB_PLUGINS": "pack-dates,broken",
           "AGENTLIB_LLM": "replay", "AGENTLIB_RECORDINGS": str(recordings), "COLUMNS": "200"}
    installed = subprocess.run(
        [sys.executable, "-m", "agentlib", "packs", "install", "agentlib-pack-dates",
         "--library", store], capture_output=True, text=True, env=env, timeout=300)
    assert installed.returncode == 0, installed.stderr
    assert "0 rejected" in installed.stdout and "✓ business_days_between" in installed.stdout
    assert installed.stderr.count("warning: plugin 'broken' failed") == 1
    args = [sys.executable, "-m", "agentlib", "solve", WORKDAYS.prompt, "--library", store,
            "--json"]
    for test in WORKDAYS.tests:
        args += ["--test", test.source]
    solved = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert solved.returncode == 0, solved.stderr
    record = json.loads(solved.stdout)
    assert (record["decision"], record["llm_calls"]) == ("reused", 0)
    assert solved.stderr.count("warning: plugin 'broken' failed") == 1
