"""`agentlib bench coldstart`: the structure of what it prints (its timings are not asserted).

Everything is real: the commands run as cold `python -m agentlib` processes against a library
built through the real `Library`; the solve runs under the replay backend with no recordings,
so it can only pass by reusing the stored module.
"""

from __future__ import annotations

import re

from typer.testing import CliRunner

from agentlib.bench.coldstart import COMMANDS, heavy_imports, parse_importtime
from agentlib.cli import app

SAMPLE = """import time: self [us] | cumulative | imported package
import time:       120 |        120 |   _io
import time:      2500 |       4000 |     numpy._core
import time:       900 |       4900 |   numpy
import time:        80 |       5100 | agentlib
something else on stderr
"""


def test_parse_importtime_reads_depth_and_seconds():
    rows = parse_importtime(SAMPLE)
    assert [(r.module, r.depth) for r in rows] == [("_io", 1), ("numpy._core", 2),
                                                   ("numpy", 1), ("agentlib", 0)]
    assert rows[2].self_s == 0.0009 and rows[2].cumulative_s == 0.0049
    assert heavy_imports(rows) == []
    heavy = parse_importtime(SAMPLE + "import time:       10 |       700000 |   chromadb.api\n"
                             "import time:       10 |       690000 | langgraph\n")
    assert heavy_imports(heavy) == ["chromadb", "langgraph"]


def test_bench_coldstart_prints_every_command_and_the_import_breakdown(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["bench", "coldstart", "--runs", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name in COMMANDS:
        row = next(line for line in lines if f" {name} " in line)
        numbers = re.findall(r"\d+\.\d{3}", row)
        assert len(numbers) == (3 if name == "python -c pass" else 4), row
    assert "solve: LLM calls per run [0] (decision: reused)" in result.output
    # --help and the library reads need no heavy package (they read the snapshot); the
    # reused solve only chromadb (it writes the usage counters), never langgraph or torch
    for name, heavy in (("agentlib --help", "none"), ("agentlib lib list", "none"),
                        ("agentlib lib search", "none"),
                        ("agentlib solve (reused)", "chromadb")):
        row = next(line for line in lines if f" {name} " in line)
        assert row.rstrip(" │").rsplit("│", 1)[1].strip() == heavy, row
    title = next(line for line in lines if "python -X importtime" in line)
    assert re.search(r"slowest: agentlib \S+", title) and "top 15 by cumulative" in title
    after = lines[lines.index(title):]
    import_rows = [line for line in after if re.search(r"│ +\S.* │ +\d+\.\d{3} │ +\d+\.\d{3} │",
                                                       line)]
    assert len(import_rows) == 15
    cumulative = [float(re.findall(r"\d+\.\d{3}", row)[-2]) for row in import_rows]
    assert cumulative == sorted(cumulative, reverse=True)


def test_commands_run_with_bytecode_writable_as_an_installed_agentlib_does(monkeypatch, tmp_path):
    """With PYTHONDONTWRITEBYTECODE inherited, every timed run would compile agentlib anew."""
    from agentlib.bench.coldstart import _environment

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("AGENTLIB_MODEL", "small")
    env = _environment(tmp_path, "minilm")
    assert "PYTHONDONTWRITEBYTECODE" not in env and "AGENTLIB_MODEL" not in env
    assert env["AGENTLIB_EMBEDDER"] == "minilm" and env["AGENTLIB_LLM"] == "replay"
