"""`agentlib bench tasks` with the replay backend: the report's numbers match its rows."""

from __future__ import annotations

import json
import re

import scenarios
from conftest import RECORDINGS
from typer.testing import CliRunner

from agentlib.cli import app


def test_bench_tasks_report_matches_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTLIB_LLM", "replay")
    monkeypatch.setenv("AGENTLIB_RECORDINGS", str(RECORDINGS / "bench.json"))
    monkeypatch.setenv("AGENTLIB_NO_PLUGINS", "1")
    tasks = tmp_path / "stream.jsonl"
    tasks.write_text("".join(json.dumps({
        "id": t.id, "prompt": t.prompt, "tests": [x.source for x in t.tests],
        "hidden_tests": [x.source for x in t.hidden_tests]}) + "\n"
        for t in scenarios.BENCH_STREAM))
    report = tmp_path / "report"
    result = CliRunner().invoke(app, ["bench", "tasks", str(tasks), "--configs",
                                      "agent,no-library,raw", "--report", str(report)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (report / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 9
    table = (report / "report.md").read_text()
    for config in ("agent", "no-library", "raw"):
        mine = [r for r in rows if r["config"] == config]
        line = next(x for x in table.splitlines() if x.startswith(f"| {config} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert int(cells[1]) == len(mine)
        assert int(cells[2]) == sum(r["status"] == "solved" for r in mine)
        hidden = [r["hidden"] for r in mine if r["hidden"] is not None]
        assert cells[3] == f"{sum(hidden)}/{len(hidden)}"
        assert int(cells[5]) == sum(r["llm_calls"] for r in mine)
        assert int(cells[10]) == sum(r["decision"] == "reused" for r in mine)
        assert all(sum(r["calls_by_kind"].values()) == r["llm_calls"] for r in mine)
        kinds = {}
        for r in mine:
            for kind, n in r["calls_by_kind"].items():
                kinds[kind] = kinds.get(kind, 0) + n
        if kinds:  # the line that says where the calls went matches the rows
            said = next(x for x in table.splitlines()
                        if x.startswith(f"- LLM calls of {config} by kind: "))
            assert dict((k, int(n)) for k, n in (part.rsplit(" ", 1) for part in
                        said.split(": ", 1)[1].split(", "))) == kinds
    agent = [r for r in rows if r["config"] == "agent"]
    assert agent[1]["decision"] == "reused" and agent[1]["llm_calls"] == 0
    assert all(r["library_size"] == 0 for r in rows if r["config"] != "agent")
    assert "model_sha256" not in table or re.search(r"[0-9a-f]{64}", table)
    for plot in ("solved.png", "llm_calls.png", "library_size.png"):
        assert (report / plot).stat().st_size > 1000


def test_reuse_benchmark_reuses_without_the_llm_and_reports_figures():
    from agentlib.bench.reuse import reuse_benchmark

    lines = []
    figures = reuse_benchmark(runs=3, report=lines.append)  # asserts reuse on every run
    assert figures["median_s"] > 0 and figures["retrieve_median_s"] > 0
    assert lines and lines[0].startswith("reuse path")
