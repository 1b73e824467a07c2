"""Export / import round trips and the installable-package export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from typer.testing import CliRunner

from agentlib.library.portable import export_jsonl, export_package, import_jsonl
from agentlib.library.store import Library
from agentlib.model import Insight

sys.path.insert(0, str(Path(__file__).parent))
from test_library import double, make, quadruple  # noqa: E402


def fill(library: Library) -> None:
    library.add(double())
    library.add(make("double", '    """Return twice x."""\n    return x + x',
                     ["assert double(3) == 6"], "double a number"))
    stored = library.add(quadruple())
    library.update_counters(stored.id, times_reused=2, times_retrieved=3)
    library.add(make("shout", "    return x.upper() + '!'", ["assert shout('hi') == 'HI!'"]))
    library.remove("shout")
    first = library.insights.add(Insight(id="", taxonomy="naming", condition="c1",
                                         explanation="e1", example="x"))
    library.insights.add(Insight(id="", taxonomy="naming", condition="c2", explanation="e2",
                                 merged_from=[first.id], refined_from=first.id))
    library.insights.update_counters(first.id, helped=4)


def content(library: Library):
    modules = sorted((asdict(m) for m in library.list(status=None)), key=lambda d: d["id"])
    return modules, [asdict(i) for i in library.insights.list()]


def test_export_import_round_trip_is_lossless(tmp_path, embedder):
    source = Library(str(tmp_path / "a"), embedder)
    fill(source)
    path = tmp_path / "lib.jsonl"
    assert export_jsonl(source, path) == 6
    target = Library(str(tmp_path / "b"), embedder)
    report = import_jsonl(target, path)
    assert report.rejected == [] and len(report.accepted) == 4 and report.insights_added == 2
    assert content(target) == content(source)
    assert target.check() == []
    assert target.search("multiply by four", k=1)[0][0].name == "quadruple"
    again = import_jsonl(target, path)
    assert again.accepted == [] and len(again.already_present) == 4
    assert content(target) == content(source)


def test_import_rejects_modules_that_fail_here_and_their_dependents(tmp_path, embedder):
    source = Library(str(tmp_path / "a"), embedder)
    source.add(double())
    source.add(quadruple())
    path = tmp_path / "lib.jsonl"
    export_jsonl(source, path)
    lines = path.read_text().splitlines()
    record = json.loads(lines[1])
    assert record["name"] == "double"
    record["tests"] = ["assert double(2) == 5"]  # tampered: no longer true
    lines[1] = json.dumps(record)
    lines.append("{not json")
    path.write_text("\n".join(lines) + "\n")
    target = Library(str(tmp_path / "b"), embedder)
    report = import_jsonl(target, path)
    reasons = dict(report.rejected)
    assert "tests fail" in reasons["double v1"]
    assert reasons["quadruple v1"] == "a dependency was rejected"
    assert any(where.endswith(":4") for where in reasons)
    assert target.count() == 0
    result = CliRunner().invoke(__import__("agentlib.cli", fromlist=["app"]).app,
                                ["lib", "import", str(path), "--library", str(tmp_path / "b")])
    assert result.exit_code == 1 and "rejected 3" in result.output


def test_export_as_package_installs_and_its_tests_pass(tmp_path, embedder):
    library = Library(str(tmp_path / "a"), embedder)
    fill(library)
    package_dir = tmp_path / "pkg"
    assert export_package(library, package_dir, "mylib") == 2  # shout is pruned
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(site),
                    str(package_dir)], check=True, capture_output=True, timeout=120)
    assert (site / "mylib" / "quadruple.py").read_text().count("from mylib.double import") == 1
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(package_dir)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout  # double v2 and quadruple: one stored test each
    check = subprocess.run([sys.executable, "-c", "import mylib; print(mylib.quadruple(5))"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert check.stdout.strip() == "20"


def test_import_queries_the_store_in_chunks_and_loses_nothing(tmp_path, embedder, monkeypatch):
    # Chroma refuses one query with more ids than SQLite's variable limit; imports split them.
    # A chunk of 1 makes every query of the round trip a split one.
    from agentlib.library import bulk

    monkeypatch.setattr(bulk, "CHUNK", 1)
    source = Library(str(tmp_path / "a"), embedder)
    fill(source)
    path = tmp_path / "lib.jsonl"
    export_jsonl(source, path)
    target = Library(str(tmp_path / "b"), embedder)
    report = import_jsonl(target, path)
    assert report.rejected == [] and len(report.accepted) == 4
    assert content(target) == content(source)
    again = import_jsonl(target, path)
    assert again.accepted == [] and len(again.already_present) == 4
