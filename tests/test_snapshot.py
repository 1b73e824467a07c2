"""The read snapshot (`agentlib.library.snapshot`): an embedded library's reads come from it
while it is current and give what Chroma gives; every write rewrites it; a stale, missing or
corrupt one is not used; `lib check` finds one that is wrong and `--repair` rewrites it.

Real Chroma and MiniLM in tmp_path. A reader is a second `Library` on the same path (it
opens no Chroma client while the snapshot serves it: `_conn` stays None); a Chroma reader is
one with its snapshot reader switched off.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from agentlib.code import docstring, module_id, signature
from agentlib.library.location import WRITING_MARKER
from agentlib.library.snapshot import SNAPSHOT_FILE, Snapshot, library_stamp, load, save
from agentlib.library.store import Library
from agentlib.model import Insight, Module


def make(name: str, body: str, tests: list[str], prompt: str, deps=()) -> Module:
    source = f"def {name}(x):\n{body}\n"
    return Module(id=module_id(source), name=name, source=source,
                  signature=signature(source, name), docstring=docstring(source, name),
                  tests=tests, dependencies=list(deps), task_prompt=prompt, task_id=f"t-{name}",
                  backend="replay", model="recorded")


def _filled(path, embedder) -> Library:
    """A library with active, superseded and pruned modules, a dependency and insights."""
    library = Library(str(path), embedder)
    library.add(make("double", '    """Return twice x."""\n    return 2 * x',
                     ["assert double(2) == 4"], "double a number"))
    library.add(make("double", '    """Return twice x."""\n    return x + x',
                     ["assert double(3) == 6"], "double a number again"))
    library.add(make("quadruple", '    """Return four times x."""\n    return double(double(x))',
                     ["assert quadruple(1) == 4"], "multiply by four", deps=["double"]))
    library.add(make("negate", '    """Return minus x."""\n    return -x',
                     ["assert negate(1) == -1"], "flip the sign of a number"))
    library.add(make("square", '    """Return x squared."""\n    return x * x',
                     ["assert square(3) == 9"], "square a number"))
    library.remove("negate")
    library.insights.add(Insight(id="", taxonomy="arithmetic/sums",
                                 condition="the task adds numbers",
                                 explanation="add the arguments; no rounding"))
    library.insights.add(Insight(id="", taxonomy="strings/case",
                                 condition="the task compares words",
                                 explanation="fold the case first"))
    return library


def _reads(library: Library) -> dict:
    """Everything the read paths return, in the order they return it."""
    vector = library.embed("twice a number")
    return {
        "list": [m.to_dict() for m in library.list()],
        "all": [m.to_dict() for m in library.list(None)],
        "get": library.get("double").to_dict(),
        "by_id": library.get_by_id(library.get("square").id).to_dict(),
        "missing": library.get("nothing"),
        "history": [m.to_dict() for m in library.history("double")],
        "count": library.count(),
        "active": sorted(library.active_names({"double", "negate", "nothing"})),
        "dependents": library.dependents("double"),
        "program": library.program_for(library.get("quadruple")),
        "search": [(m.to_dict(), d) for m, d in library.search("twice a number", k=3)],
        "pruned": [(m.id, d) for m, d in library.search_vector(vector, 2,
                                                               {"status": "pruned"})],
        "insights": [i.__dict__ for i in library.insights.list()],
        "insight_count": library.insights.count(),
        "insight_search": [(i.id, d) for i, d in library.insights.search("add two numbers", 2)],
    }


def _same(a: dict, b: dict) -> None:
    """Equal reads; distances to float precision."""
    assert a.keys() == b.keys()
    for key in a:
        if key in ("search", "pruned", "insight_search"):
            assert [x for x, _ in a[key]] == [x for x, _ in b[key]], key
            assert np.allclose([d for _, d in a[key]], [d for _, d in b[key]], atol=1e-6), key
        else:
            assert a[key] == b[key], key


def _chroma_reader(path, embedder) -> Library:
    reader = Library(str(path), embedder)
    reader.snapshots = None
    reader.forget_index()
    return reader


def test_reads_from_the_snapshot_are_the_reads_from_chroma(tmp_path, embedder):
    path = tmp_path / "store"
    _filled(path, embedder).close()
    from_snapshot = Library(str(path), embedder)
    snapshot_reads = _reads(from_snapshot)
    assert from_snapshot._conn is None  # served without opening Chroma
    chroma_reads = _reads(_chroma_reader(path, embedder))
    assert len(snapshot_reads["all"]) == 5 and len(snapshot_reads["search"]) == 3
    assert snapshot_reads["pruned"] and snapshot_reads["insight_search"]
    _same(snapshot_reads, chroma_reads)


def test_the_writer_s_own_reads_after_a_write_are_chroma_s_to_the_last_digit(tmp_path,
                                                                           embedder):
    path = tmp_path / "store"
    writer = _filled(path, embedder)
    _same(_reads(writer), _reads(_chroma_reader(path, embedder)))


def _stored_record(path, name: str, status: str = "active") -> dict | None:
    snapshot = load(path)
    assert snapshot is not None and snapshot.stamp == library_stamp(path)  # current
    found = [r for r in snapshot.collections["modules"].records
             if r["name"] == name and r["status"] == status]
    return found[0] if found else None


def test_every_write_rewrites_the_snapshot(tmp_path, embedder):
    path = tmp_path / "store"
    writer = _filled(path, embedder)
    square = writer.get("square")
    writer.update_counters(square.id, times_retrieved=2, times_reused=1)
    assert _stored_record(path, "square")["times_retrieved"] == 0  # pending, not written
    writer.flush_counters()
    assert _stored_record(path, "square")["times_retrieved"] == 2
    writer.remove("square")
    assert _stored_record(path, "square") is None
    assert _stored_record(path, "square", "pruned")["times_reused"] == 1
    writer.add(make("triple", '    """Return three times x."""\n    return 3 * x',
                    ["assert triple(1) == 3"], "triple a number"))
    assert _stored_record(path, "triple") is not None
    lesson = writer.insights.list()[0]
    writer.insights.remove(lesson.id)
    assert lesson.id not in load(path).collections["insights"].ids
    writer.set_statuses({square.id: "active"})
    assert _stored_record(path, "square") is not None
    reader = Library(str(path), embedder)
    assert reader.get("square").times_retrieved == 2 and reader.get("triple") is not None
    assert [m for m, _ in reader.search("three times a number", 1)][0].name == "triple"
    assert reader._conn is None


def test_a_snapshot_older_than_the_latest_write_is_not_used(tmp_path, embedder):
    path = tmp_path / "store"
    writer = _filled(path, embedder)
    before = tmp_path / "before.npz"
    shutil.copy(path / SNAPSHOT_FILE, before)
    writer.remove("square")  # another writer, whose snapshot did not get written:
    shutil.copy(before, path / SNAPSHOT_FILE)
    reader = Library(str(path), embedder)
    assert reader.get("square") is None
    assert "square" not in [m.name for m in reader.list()]
    assert "square" not in [m.name for m, _ in reader.search("square a number", 5)]
    assert reader._conn is not None  # read through Chroma


def test_a_snapshot_is_not_used_while_a_write_is_in_progress_or_was_killed(tmp_path,
                                                                           embedder):
    path = tmp_path / "store"
    _filled(path, embedder).close()
    expected = _reads(_chroma_reader(path, embedder))
    (path / WRITING_MARKER).touch()  # a writer between its Chroma call and its snapshot
    reader = Library(str(path), embedder)
    assert reader._conn is not None  # opened, and the killed writer's marker cleared
    assert not (path / WRITING_MARKER).exists()
    _same(_reads(reader), expected)


def test_a_write_that_skips_the_snapshot_leaves_it_unused(tmp_path, embedder):
    path = tmp_path / "store"
    writer = _filled(path, embedder)
    square = writer.get("square")
    with writer.conn.write(snapshot=False):  # as an agentlib without snapshots writes
        writer.modules.update(ids=[square.id], metadatas=[{"status": "pruned"}])
    reader = Library(str(path), embedder)
    assert reader.get("square") is None and reader._conn is not None


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "wrong rows"])
def test_a_corrupt_snapshot_falls_back_to_chroma(tmp_path, embedder, damage):
    path = tmp_path / "store"
    _filled(path, embedder).close()
    expected = _reads(_chroma_reader(path, embedder))
    target = path / SNAPSHOT_FILE
    if damage == "garbage":
        target.write_bytes(b"not a snapshot at all")
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[:200])
    elif damage == "empty":
        target.write_bytes(b"")
    else:  # the stamp is current, the vectors do not fit the records
        kept = load(path)
        kept.collections["modules"].vectors = kept.collections["modules"].vectors[:1]
        save(path, kept)
    reader = Library(str(path), embedder)
    _same(_reads(reader), expected)
    assert reader._conn is not None


def test_a_snapshot_of_another_embedder_is_not_used(tmp_path, embedder):
    path = tmp_path / "store"
    _filled(path, embedder).close()
    kept = load(path)
    kept.collections["modules"].metadata["embedder_fingerprint"] = "another-model"
    save(path, Snapshot(kept.stamp, kept.collections))
    reader = Library(str(path), embedder)  # Chroma's own record says this embedder: fine
    assert reader.snapshot() is None and reader._conn is not None
    assert reader.get("double") is not None


def test_lib_check_finds_a_wrong_snapshot_and_repair_rewrites_it(tmp_path, embedder):
    from agentlib.cli import app

    path = tmp_path / "store"
    library = _filled(path, embedder)
    assert library.check() == []  # the probe of the vectors moves the generation: still ok
    assert load(path).stamp == library_stamp(path)
    kept = load(path)
    row = kept.collections["modules"].ids.index(library.get("square").id)
    kept.collections["modules"].records[row]["times_reused"] = 99
    kept.collections["modules"].vectors[row] = -kept.collections["modules"].vectors[row]
    save(path, kept)
    library.close()
    runner = CliRunner()
    args = ["lib", "check", "--library", str(path)]
    wrong = runner.invoke(app, args)
    assert wrong.exit_code == 1
    assert "1 record(s) differ" in wrong.stderr and "1 vector(s) differ" in wrong.stderr
    assert runner.invoke(app, [*args, "--repair"]).exit_code == 0
    assert runner.invoke(app, args).exit_code == 0
    assert _stored_record(path, "square")["times_reused"] == 0
    (path / SNAPSHOT_FILE).unlink()
    assert runner.invoke(app, args).exit_code == 0  # a missing one is written, not a fault
    reader = Library(str(path), embedder)
    assert reader.get("square").times_reused == 0 and reader._conn is None


def test_lib_check_writes_a_stale_snapshot_afresh(tmp_path, embedder):
    path = tmp_path / "store"
    library = _filled(path, embedder)
    square = library.get("square")
    with library.conn.write(snapshot=False):  # a write whose snapshot was not written
        library.modules.update(ids=[square.id], metadatas=[{"status": "pruned"}])
    assert load(path).stamp != library_stamp(path)
    assert library.check() == []
    assert load(path).stamp == library_stamp(path)
    assert _stored_record(path, "square") is None
    assert _stored_record(path, "square", "pruned") is not None


def test_a_server_library_has_no_snapshot(chroma_server, tmp_path, embedder):
    library = Library(chroma_server.url, embedder)
    library.add(make("double", '    """Return twice x."""\n    return 2 * x',
                     ["assert double(2) == 4"], "double a number"))
    assert library.path is None and library.snapshots is None and library.snapshot() is None
    assert [m.name for m, _ in library.search("twice", 1)] == ["double"]
    assert library.check() == []
    assert not list(tmp_path.rglob(SNAPSHOT_FILE))


WRITER = ("import sys\n"
          "from agentlib.library import snapshot\n"
          "from agentlib.library.embed import MiniLMEmbedder\n"
          "from agentlib.library.store import Library\n"
          "if sys.argv[2] == 'no-snapshot':  # a writer whose snapshot does not get written\n"
          "    snapshot.save = lambda *args: None\n"
          "with Library(sys.argv[1], MiniLMEmbedder()) as library:\n"
          "    library.remove(sys.argv[3])\n")


@pytest.mark.parametrize("writes_snapshot", [True, False])
def test_a_reader_sees_another_process_s_write_at_once(tmp_path, embedder, writes_snapshot):
    import subprocess
    import sys

    path = tmp_path / "store"
    _filled(path, embedder).close()
    reader = Library(str(path), embedder)
    assert reader.get("square") is not None and reader.search("square a number", 1)
    assert reader._conn is None  # the snapshot is loaded, and its index built
    done = subprocess.run([sys.executable, "-c", WRITER, str(path),
                           "snapshot" if writes_snapshot else "no-snapshot", "square"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert reader.get("square") is None
    assert "square" not in [m.name for m, _ in reader.search("square a number", 5)]
    assert (reader._conn is None) == writes_snapshot
