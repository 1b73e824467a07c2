"""The read snapshot (`agentlib.library.snapshot`): reads without chromadb, the same results as
Chroma, never a stale or half-written snapshot, and `lib check` / `--repair` on it.

Everything is real: Chroma on disk in tmp_path, the MiniLM embedder, cold `python` processes
where a test is about what a fresh process imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from agentlib.code import docstring, module_id, signature
from agentlib.library import snapshot as snap
from agentlib.library.chroma import INSIGHTS, MODULES, WRITING_MARKER, generation_token
from agentlib.library.store import Library
from agentlib.library.text import query_text
from agentlib.model import Insight, Module

STREAM = Path(__file__).parent.parent / "agentlib" / "bench" / "data" / "compositional.jsonl"
LESSONS = [("lists/duplicates", "the task removes duplicates from a list",
            "keep the first occurrence and the order"),
           ("strings/palindromes", "the task checks whether a string reads the same backwards",
            "normalise case before comparing"),
           ("dates/leap-years", "the task asks whether a year is a leap year",
            "centuries are leap years only when divisible by 400")]


def _tasks() -> list[dict]:
    return [json.loads(line) for line in STREAM.read_text().splitlines() if line.strip()]


def _stream_modules() -> list[Module]:
    """One module per task of the bundled stream (their prompts and tests; dummy bodies)."""
    modules = []
    for index, task in enumerate(_tasks()):
        entry = task["tests"][0].split("assert ", 1)[1].split("(", 1)[0].strip()
        name = f"{entry}_{index:02d}"
        source = f'def {name}(*args):\n    """{task["prompt"]}"""\n    return None\n'
        modules.append(Module(id=module_id(source), name=name, source=source,
                              signature=f"{name}(*args)", docstring=task["prompt"],
                              tests=task["tests"], task_prompt=task["prompt"],
                              task_id=task["id"], backend="test", model="none"))
    return modules


def _add(name: str, body: str = "return x + 1") -> Module:
    source = f'def {name}(x):\n    """Compute {name}."""\n    {body}\n'
    return Module(id=module_id(source), name=name, source=source, signature=signature(source, name),
                  docstring=docstring(source, name), tests=[f"assert {name}(1) is not None"],
                  task_prompt=f"compute {name}")


def _stream_library(path: Path, embedder) -> Library:
    library = Library(str(path), embedder)
    library.add_many(_stream_modules())
    for taxonomy, condition, explanation in LESSONS:
        library.insights.add(Insight(id="", taxonomy=taxonomy, condition=condition,
                                     explanation=explanation))
    return library


READER = """
import json, sys
from agentlib.library.embed import MiniLMEmbedder
from agentlib.library.store import Library
library = Library(sys.argv[1], MiniLMEmbedder())
queries = json.loads(sys.argv[2])
out = {
    "modules": [[(m.name, d) for m, d in library.search(q, k=5)] for q in queries],
    "insights": [[(i.taxonomy, d) for i, d in library.insights.search(q, k=2)] for q in queries],
    "listed": [m.name for m in library.list()],
    "count": [library.count(), library.insights.count()],
    "chroma_opened": library._conn is not None,
    "imported": sorted(m for m in ("chromadb", "torch", "langgraph") if m in sys.modules),
}
print(json.dumps(out))
"""


def _read_in_a_fresh_process(path: Path, queries: list[str]) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", READER, str(path), json.dumps(queries)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_a_fresh_process_reads_without_chromadb_and_finds_what_chroma_finds(tmp_path, embedder):
    library = _stream_library(tmp_path / "lib", embedder)
    queries = [query_text(t["prompt"], t["tests"]) for t in _tasks()]
    read = _read_in_a_fresh_process(tmp_path / "lib", queries)
    assert read["imported"] == [] and read["chroma_opened"] is False
    assert read["count"] == [40, 3]
    assert read["listed"] == [m.name for m in library.list()]
    for query, found, lessons in zip(queries, read["modules"], read["insights"], strict=True):
        # Chroma's own index, asked directly
        got = library.modules.query(query_embeddings=[library.embed(query)], n_results=5,
                                    where={"status": "active"}, include=["distances",
                                                                         "metadatas"])
        assert [name for name, _ in found] == [m["name"] for m in got["metadatas"][0]]
        assert np.allclose([d for _, d in found], got["distances"][0], atol=1e-4)
        nearest = library.insights.collection.query(
            query_embeddings=[library.embed(query)], n_results=2, include=["metadatas",
                                                                         "distances"])
        assert [t for t, _ in lessons] == [m["taxonomy"] for m in nearest["metadatas"][0]]
        assert np.allclose([d for _, d in lessons], nearest["distances"][0], atol=1e-4)


def test_the_snapshot_is_used_only_at_its_own_generation(tmp_path, embedder):
    library = Library(str(tmp_path / "lib"), embedder)
    library.add(_add("first"))
    old = (tmp_path / "lib" / snap.SNAPSHOT_FILE).read_bytes()
    library.add(_add("second"))
    (tmp_path / "lib" / snap.SNAPSHOT_FILE).write_bytes(old)  # one generation behind
    assert snap.stamp(tmp_path / "lib") != generation_token(tmp_path / "lib")
    # (the writer itself keeps the snapshot it wrote in memory: right for this generation)
    reader = Library(str(tmp_path / "lib"), embedder)
    assert reader._conn is not None  # Chroma, for want of a current snapshot
    assert {m.name for m in reader.list()} == {"first", "second"}
    assert snap.stamp(tmp_path / "lib") != generation_token(tmp_path / "lib")
    # a search reads every vector from Chroma, and writes the snapshot from them: the next
    # process needs no Chroma
    assert reader.search("compute second", k=1)[0][0].name == "second"
    again = Library(str(tmp_path / "lib"), embedder)
    assert again._conn is None and {m.name for m in again.list()} == {"first", "second"}


def test_no_snapshot_while_a_write_is_in_progress_or_when_unreadable(tmp_path, embedder):
    library = Library(str(tmp_path / "lib"), embedder)
    library.add(_add("first"))
    assert library._snapshot() is not None
    marker = tmp_path / "lib" / WRITING_MARKER
    marker.touch()  # a writer at work (or killed mid-write)
    assert library._snapshot() is None
    marker.unlink()
    assert library._snapshot() is not None
    (tmp_path / "lib" / snap.SNAPSHOT_FILE).write_bytes(b"PK\x03\x04 torn")
    assert snap.load(tmp_path / "lib") is None
    fresh = Library(str(tmp_path / "lib"), embedder)
    assert fresh._conn is not None and [m.name for m in fresh.list()] == ["first"]


def test_a_library_built_before_snapshots_gets_one_and_checks_clean(tmp_path, embedder):
    library = _stream_library(tmp_path / "lib", embedder)
    (tmp_path / "lib" / snap.SNAPSHOT_FILE).unlink()  # as a library built before snapshots
    reopened = Library(str(tmp_path / "lib"), embedder)
    assert reopened.check() == []
    kept = snap.load(tmp_path / "lib")
    assert kept is not None and kept.generation == library.conn.generation()
    assert snap.differences(kept, {name: snap.chroma_records(
        library.conn, name, library.collection_metadata) for name in (MODULES, INSIGHTS)}) == []


def test_check_reports_a_snapshot_that_disagrees_and_repair_rewrites_it(tmp_path, embedder,
                                                                        monkeypatch):
    from agentlib.cli import app

    library = Library(str(tmp_path / "lib"), embedder)
    library.add(_add("first"))
    library.add(_add("second"))
    kept = snap.load(tmp_path / "lib")
    modules = kept.collections[MODULES]
    modules.records[0] = {**modules.records[0], "status": "pruned"}
    modules.vectors[1] = -modules.vectors[1]
    snap.save(tmp_path / "lib", kept)  # wrong, yet stamped with the current generation
    problems = library.check()
    assert any("1 modules record(s) differ from Chroma's" in p for p in problems), problems
    assert any("1 modules vector(s) differ from Chroma's" in p for p in problems), problems
    assert all("--repair" in p for p in problems if p.startswith("snapshot:"))
    monkeypatch.setenv("COLUMNS", "200")
    failed = CliRunner().invoke(app, ["lib", "check", "--library", str(tmp_path / "lib")])
    assert failed.exit_code == 1 and "differ from Chroma" in failed.output
    repaired = CliRunner().invoke(app, ["lib", "check", "--repair", "--library",
                                        str(tmp_path / "lib")])
    assert repaired.exit_code == 0, repaired.output
    assert "ok: 2 module record(s)" in repaired.output
    assert {m.status for m in Library(str(tmp_path / "lib"), embedder).list(None)} == {"active"}


def test_snapshot_follows_every_kind_of_write(tmp_path, embedder):
    library = Library(str(tmp_path / "lib"), embedder)
    first = library.add(_add("first"))
    library.add(_add("first", "return x + 2"))  # supersedes
    library.set_statuses({first.id: "pruned"})
    library.insights.add(Insight(id="", taxonomy="a/b", condition="when c", explanation="d"))
    library.remove("first")
    library.revive(library.history("first")[-1])
    library.reindex()
    kept = snap.load(tmp_path / "lib")
    assert kept.generation == library.conn.generation()
    actual = {name: snap.chroma_records(library.conn, name, library.collection_metadata)
              for name in (MODULES, INSIGHTS)}
    assert snap.differences(kept, actual) == []
    assert [(m.version, m.status) for m in library.history("first")] == \
        [(1, "pruned"), (2, "active")]
