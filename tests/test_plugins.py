"""The plugin manager: discovery, filtering, isolation of broken plugins, every hook working.

Plugins here are real distributions (a dist-info directory on sys.path, see test_plugins_factory),
found through the real `agentlib` entry-point group.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest
import test_plugins_factory as factory
import typer
from typer.testing import CliRunner

import agentlib.plugins as plugins
from agentlib.agent import Agent
from agentlib.config import Settings
from agentlib.llm import LLM
from agentlib.plugins import (
    PluginWarning,
    add_commands,
    embedder_factories,
    llm_factories,
    make_plugin_manager,
    module_packs,
    plugin_records,
    repl_commands,
    run_validators,
    validators,
)

runner = CliRunner()


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A fresh directory of plugin distributions on sys.path; warnings start afresh."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    monkeypatch.setattr(plugins, "_WARNED", set())
    return path


def _subprocess_env(site) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(site), "AGENTLIB_PLUGINS": "testplug,broken",
            "COLUMNS": "250"}


def test_every_implementation_matches_a_hookspec(site):
    factory.make_plugin(site, "agentlib-testplug", "testplug", factory.WORKING)
    pm = make_plugin_manager()
    pm.check_pending()  # raises if any hookimpl (built-in, installed or test) has no spec


def test_the_builtin_backends_register_through_the_hooks():
    pm = make_plugin_manager(load_entry_points=False)
    assert {"local", "openai", "replay"} <= set(llm_factories(pm))
    assert "minilm" in embedder_factories(pm)
    builtin, *installed = plugin_records(pm)
    assert builtin.name == "agentlib.builtin" and builtin.builtin and builtin.status == "loaded"
    assert all(r.status == "disabled" for r in installed)
    assert builtin.hooks == ["register_embedders", "register_llms"]


def test_a_plugin_adds_an_llm_a_validator_a_pack_and_a_repl_command_that_work(site):
    factory.make_plugin(site, "agentlib-testplug", "testplug", factory.WORKING)
    pm = make_plugin_manager()
    record = pm.records["testplug"]
    assert (record.distribution, record.version, record.status) == \
        ("agentlib-testplug", "0.3.0", "loaded")
    assert record.hooks == ["register_commands", "register_llms", "register_module_packs",
                            "register_repl_commands", "register_validators"]
    llm = Agent(Settings(llm="echo"), pm=pm).llm()
    assert isinstance(llm, LLM)
    assert llm.complete([{"role": "user", "content": "ping"}]).text == "echo: ping"
    assert run_validators(pm, "def f(x):\n    return eval(x)\n", "f", []) == \
        ["no-eval: calls eval()"]
    assert run_validators(pm, "def f(x):\n    return x\n", "f", []) == []
    assert module_packs(pm)["tiny"]()[0]["name"] == "twice"
    shout = repl_commands(pm)["shout"]
    assert (shout.handler(None, "hi"), shout.help, shout.plugin) == \
        ("HI", "Repeat the arguments in capitals.", "testplug")


def test_a_plugin_command_runs_from_the_real_cli(site):
    factory.make_plugin(site, "agentlib-testplug", "testplug", factory.WORKING)
    done = subprocess.run([sys.executable, "-m", "agentlib", "hello", "--name", "plugins"],
                          capture_output=True, text=True, env=_subprocess_env(site), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "hello, plugins"
    off = subprocess.run([sys.executable, "-m", "agentlib", "--no-plugins", "hello"],
                         capture_output=True, text=True, env=_subprocess_env(site), timeout=60)
    assert off.returncode == 2 and "No such command" in off.stderr


def test_plugin_commands_are_added_in_process_too(site):
    factory.make_plugin(site, "agentlib-testplug", "testplug", factory.WORKING)
    app = typer.Typer()
    app.command("noop")(lambda: None)
    add_commands(make_plugin_manager(), app)
    result = runner.invoke(app, ["hello"])
    assert result.exit_code == 0 and result.stdout == "hello, world\n"


@pytest.mark.parametrize("source, error", [
    (factory.FAILS_TO_IMPORT, "import of agentlib_testplug_.* failed: ModuleNotFoundError"),
    (factory.RAISES_IN_HOOK, "register_llms raised RuntimeError: the backend's config file"),
    (factory.WRONG_ARGUMENT, "does not match agentlib's hooks"),
    (factory.UNKNOWN_HOOK, "implements hooks this agentlib does not have: "
                           "register_time_machines"),
    (factory.STEALS_A_NAME, "registers the LLM backend 'local', which agentlib.builtin already"),
], ids=["import", "raises", "signature", "unknown-hook", "duplicate-name"])
def test_a_broken_plugin_is_recorded_warned_once_and_skipped(site, source, error):
    factory.make_plugin(site, "agentlib-broken", "broken", source)
    factory.make_plugin(site, "agentlib-testplug", "testplug", factory.WORKING)
    with pytest.warns(PluginWarning, match="plugin 'broken' failed") as caught:
        pm = make_plugin_manager()
        factories = llm_factories(pm)
    assert len([w for w in caught if issubclass(w.category, PluginWarning)]) == 1
    record = pm.records["broken"]
    assert record.status == "failed" and record.version == "0.3.0"
    assert __import__("re").search(error, record.error), record.error
    assert {"local", "echo"} <= set(factories)  # the others still work
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)  # a second time: no warning
        llm_factories(make_plugin_manager())


def test_a_validator_that_raises_is_recorded_and_does_not_reject(site):
    factory.make_plugin(site, "agentlib-broken", "broken", factory.RAISING_VALIDATOR)
    pm = make_plugin_manager()
    with pytest.warns(PluginWarning, match="validator 'flaky' raised ZeroDivisionError"):
        assert validators(pm)["flaky"]("def f():\n    pass\n", "f", []) is None
    assert pm.records["broken"].status == "failed"
    assert "flaky" not in validators(pm)  # a failed plugin is skipped from then on


def test_agentlib_plugins_filters_by_entry_point_or_distribution_name(site, monkeypatch):
    factory.make_plugin(site, "agentlib-testplug", "testplug", factory.WORKING)
    factory.make_plugin(site, "agentlib-broken", "broken", factory.RAISES_IN_HOOK)
    monkeypatch.setenv("AGENTLIB_PLUGINS", "testplug")
    pm = make_plugin_manager()
    assert pm.records["broken"].status == "disabled"
    assert "AGENTLIB_PLUGINS" in pm.records["broken"].error
    assert "echo" in llm_factories(pm)  # and no warning: the broken one was never imported
    monkeypatch.setenv("AGENTLIB_PLUGINS", "Agentlib_Broken")
    with pytest.warns(PluginWarning, match="'broken'"):
        pm = make_plugin_manager()
        assert "echo" not in llm_factories(pm)
    assert pm.records["broken"].status == "failed"
    assert pm.records["testplug"].status == "disabled"
    monkeypatch.setenv("AGENTLIB_PLUGINS", "")
    assert {r.status for r in plugin_records(make_plugin_manager()) if not r.builtin} == \
        {"disabled"}


def test_no_plugins_loads_only_the_builtins(site, monkeypatch):
    factory.make_plugin(site, "agentlib-testplug", "testplug", factory.WORKING)
    pm = make_plugin_manager(load_entry_points=False)
    assert pm.records["testplug"].status == "disabled" and "echo" not in llm_factories(pm)
    monkeypatch.setenv("AGENTLIB_NO_PLUGINS", "1")
    assert "echo" not in llm_factories(make_plugin_manager())
    assert "echo" in llm_factories(make_plugin_manager(load_entry_points=True))


def test_a_register_call_with_a_non_callable_fails_the_plugin(site):
    pm = make_plugin_manager(load_entry_points=False)

    class Sloppy:
        @plugins.hookimpl
        def register_embedders(self, register):
            register("fast", "not a factory")

    pm.register(Sloppy(), name="sloppy")
    with pytest.warns(PluginWarning, match="not callable"):
        assert "fast" not in embedder_factories(pm)
    assert pm.records["sloppy"].status == "failed"


def test_a_builtin_that_raises_is_our_bug_and_propagates():
    from agentlib.plugins import BUILTIN, PluginManager, hookspecs

    class BrokenBuiltin:
        @plugins.hookimpl
        def register_llms(self, register):
            raise RuntimeError("a bug in agentlib itself")

    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    pm.register(BrokenBuiltin(), name=BUILTIN)
    with pytest.raises(RuntimeError, match="a bug in agentlib itself"):
        llm_factories(pm)


def test_the_plugins_command_lists_name_version_hooks_status_and_error(site):
    factory.make_plugin(site, "agentlib-testplug", "testplug", factory.WORKING)
    factory.make_plugin(site, "agentlib-broken", "broken", factory.RAISES_IN_HOOK)
    done = subprocess.run([sys.executable, "-m", "agentlib", "plugins", "--json"],
                          capture_output=True, text=True, env=_subprocess_env(site), timeout=60)
    import json

    rows = {r["name"]: r for r in json.loads(done.stdout)}
    assert done.returncode == 0
    assert "agentlib.builtin" not in rows
    assert rows["testplug"]["status"] == "loaded" and rows["testplug"]["version"] == "0.3.0"
    assert "register_validators" in rows["testplug"]["hooks"]
    assert rows["broken"]["status"] == "failed"
    assert "RuntimeError: the backend's config file is missing" in rows["broken"]["error"]
    assert done.stderr.count("warning: plugin 'broken'") == 1  # at start-up, once
    shown = subprocess.run([sys.executable, "-m", "agentlib", "plugins", "--all"],
                           capture_output=True, text=True, env=_subprocess_env(site),
                           timeout=60)
    assert shown.returncode == 0
    assert "agentlib.builtin" in shown.stdout and "(built-in)" in shown.stdout
    assert "testplug" in shown.stdout and "failed" in shown.stdout


def test_help_stays_instant_with_plugins_installed(site):
    factory.make_plugin(site, "agentlib-testplug", "testplug", factory.WORKING)
    code = ("import sys; sys.argv = ['agentlib', '--help']\nfrom agentlib.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = ('torch', 'chromadb', 'langgraph', 'xllamacpp', 'hypothesis', "
            "'sentence_transformers')\n"
            "print('HEAVY', [m for m in heavy if m in sys.modules])")
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60)
    assert "hello" in done.stdout and "plugins" in done.stdout  # the plugin's command is listed
    assert "HEAVY []" in done.stdout, done.stdout[-300:]
