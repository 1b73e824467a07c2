"""Figures as installed: `agentlib bench tasks --configs agent,agent-no-plugins` runs the agent
with the installed plugins and without any, in one run.

The installed plugin here is written into a site directory and loaded through the real entry
points: it registers a scripted LLM (the test is about the configurations, not a model) and
a validator that rejects the scripted first answer, so the two configurations must differ.
"""

from __future__ import annotations

import json

import test_plugins_factory as factory
from typer.testing import CliRunner

import agentlib.plugins as plugins
from agentlib.cli import app

PLUGIN = '''
    from agentlib.llm import Completion
    from agentlib.plugins import hookimpl

    LOOP = "def total(xs):\\n    t = 0\\n    for x in xs:\\n        t += x\\n    return t\\n"
    BUILTIN = "def total(xs):\\n    return sum(xs)\\n"


    class Scripted:
        name = "scripted"

        def complete(self, messages, **options):
            rejected = "rejected" in messages[-1]["content"]
            return Completion(text="```python\\n" + (BUILTIN if rejected else LOOP) + "```")


    @hookimpl
    def register_llms(register):
        register("scripted", lambda settings: Scripted())


    @hookimpl
    def register_validators(register):
        register("no-loops", lambda s, e, t: "uses a for loop" if "for x in" in s else None)
'''


def test_agent_no_plugins_runs_beside_the_installed_configuration(tmp_path, monkeypatch):
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(plugins, "_WARNED", set())
    factory.make_plugin(site, "agentlib-scripted", "scripted", PLUGIN)
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"id": "total", "prompt": "Sum a list.",
                                 "tests": ["assert total([1, 2]) == 3"]}) + "\n")
    report = tmp_path / "report"
    result = CliRunner().invoke(app, ["bench", "tasks", str(tasks), "--configs",
                                      "agent,agent-no-plugins", "--report", str(report)],
                                env={"AGENTLIB_PLUGINS": "scripted", "AGENTLIB_LLM": "scripted",
                                     "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = {r["config"]: r for r in map(json.loads,
                                        (report / "results.jsonl").read_text().splitlines())}
    assert (rows["agent"]["status"], rows["agent"]["decision"]) == ("solved", "repaired")
    assert rows["agent"]["llm_calls"] >= 2  # rejected by the installed validator, repaired
    assert (rows["agent-no-plugins"]["decision"], rows["agent-no-plugins"]["llm_calls"]) == (
        "created", 1)
    assert "| agent-no-plugins | 1 | 1 |" in (report / "report.md").read_text()
