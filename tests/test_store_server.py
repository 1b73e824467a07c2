"""Server mode: the same Library code against a real `chroma run` over HTTP."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agentlib.errors import StoreError
from agentlib.library.store import Library
from agentlib.model import Insight

sys.path.insert(0, str(Path(__file__).parent))
from test_library import double, quadruple  # noqa: E402


def test_library_over_http(chroma_server, embedder):
    library = Library(chroma_server.url, embedder)
    assert library.conn.server
    library.add(double())
    stored = library.add(quadruple())
    assert stored.dependencies == ["double"]
    assert library.get("quadruple").id == stored.id
    assert library.get_by_id(stored.id).name == "quadruple"
    program = library.program_for(stored)
    assert program.index("def double") < program.index("def quadruple")
    found = library.search("multiply a number by four", k=2)
    assert found[0][0].name == "quadruple" and len(found) == 2
    library.update_counters(stored.id, times_reused=1)
    assert library.get("quadruple").times_reused == 1
    assert library.flush_counters() == 1
    insight = library.insights.add(Insight(id="", taxonomy="t", condition="c",
                                           explanation="e"))
    assert library.insights.search("c", k=1)[0][0].id == insight.id
    with pytest.raises(StoreError, match="needed by"):
        library.remove("double")
    assert library.check() == []
    again = Library(chroma_server.url, embedder)  # a second client sees the same library
    assert [m.name for m in again.list()] == ["double", "quadruple"]


_CLAIMER = """
import json, sys, time
from pathlib import Path
import chromadb
from chromadb.config import Settings
port, owner, go = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
client = chromadb.HttpClient(host="127.0.0.1", port=port,
                             settings=Settings(anonymized_telemetry=False))
collection = client.get_collection("claims-probe", embedding_function=None)
while not go.exists():
    time.sleep(0.005)
seen = []
for k in range(30):
    collection.add(ids=[f"k{k}"], metadatas=[{"owner": owner}], embeddings=[[float(owner), 1.0]])
    got = collection.get(ids=[f"k{k}"], include=["metadatas"])
    seen.append(got["metadatas"][0]["owner"])
print(json.dumps(seen))
"""


def test_chroma_add_keeps_the_first_record_of_an_id_under_concurrency(chroma_server, tmp_path):
    """What the server's claims rest on (docs/scale-out.md), checked on a real `chroma run`:
    `add` of a stored id changes nothing and raises nothing; `update` merges the given keys
    and does not create; six processes adding the same 30 ids at once leave one record per
    id, and every writer reads back the same winner right after its own add."""
    import json
    import subprocess

    import chromadb
    from chromadb.config import Settings

    client = chromadb.HttpClient(host="127.0.0.1", port=chroma_server.port,
                                 settings=Settings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("claims-probe", embedding_function=None)
    collection.add(ids=["a"], metadatas=[{"owner": 1, "x": 1}], embeddings=[[1.0, 0.0]],
                   documents=["one"])
    collection.add(ids=["a", "b"], metadatas=[{"owner": 2}, {"owner": 2}],
                   embeddings=[[0.0, 1.0], [0.0, 1.0]], documents=["two", "two"])
    got = collection.get(ids=["a", "b"], include=["metadatas", "documents", "embeddings"])
    assert got["metadatas"] == [{"owner": 1, "x": 1}, {"owner": 2}]
    assert got["documents"] == ["one", "two"] and list(got["embeddings"][0]) == [1.0, 0.0]
    collection.update(ids=["a"], metadatas=[{"status": "superseded"}])
    assert collection.get(ids=["a"], include=["metadatas"])["metadatas"] == [
        {"owner": 1, "x": 1, "status": "superseded"}]
    collection.update(ids=["absent"], metadatas=[{"owner": 9}])
    assert collection.get(ids=["absent"])["ids"] == []

    collection.delete(ids=["a", "b"])
    go = tmp_path / "go"
    writers = [subprocess.Popen([sys.executable, "-c", _CLAIMER, str(chroma_server.port),
                                 str(owner), str(go)], stdout=subprocess.PIPE, text=True)
               for owner in range(6)]
    go.touch()
    seen = [json.loads(w.communicate(timeout=120)[0]) for w in writers]
    assert all(w.returncode == 0 for w in writers)
    final = collection.get(ids=[f"k{k}" for k in range(30)], include=["metadatas"])
    winner = {i: m["owner"] for i, m in zip(final["ids"], final["metadatas"], strict=True)}
    assert collection.count() == 30 and len(winner) == 30
    for readback in seen:
        assert readback == [winner[f"k{k}"] for k in range(30)]
    print("distinct winners:", len(set(winner.values())))


def _val(body: str, tests: list[str]):
    """A module `val` returning `body`."""
    from test_library import make

    return make("val", f"    return {body}", tests, body)


_WRITER = """
import sys
sys.path.insert(0, sys.argv[2])
from test_store_durability import HashEmbedder
from test_store_server import _val
from agentlib.library.store import Library
library = Library(sys.argv[1], HashEmbedder())
library.add(_val("x + x + x", ["assert val(5) == 15"]))
library.close()
"""


def _interleaved(location: str) -> None:
    """Verify a version against v1 while another process stores v2 that it does not fit."""
    import subprocess

    from test_store_durability import HashEmbedder

    from agentlib.library.writes import sandbox_check

    library = Library(location, HashEmbedder())
    library.add(_val("x * 3", ["assert val(2) == 6"]))
    real = sandbox_check()
    calls = []

    def check(program, tests):
        calls.append(list(tests))
        if len(calls) == 1:  # the other writer commits while this one verifies
            subprocess.run([sys.executable, "-c", _WRITER, location,
                            str(Path(__file__).parent)], check=True, timeout=120)
        return real(program, tests)

    done = library.commit(_val("x * 3 if x != 5 else 0", ["assert val(2) == 6"]), check)
    assert calls == [["assert val(2) == 6"], ["assert val(5) == 15"]]
    assert done.module is not None and done.module.name == "val_2" and done.rounds == 3
    assert [(m.version, m.status, m.source.split("return ")[1].strip())
            for m in library.history("val")] == [(1, "superseded", "x * 3"),
                                                 (2, "active", "x + x + x")]
    assert library.get("val_2").id == done.module.id
    assert library.check() == []


def test_a_version_verified_against_a_replaced_predecessor_is_checked_again_embedded(tmp_path):
    """Verification runs without the lock; at commit the name had moved on (v2, stored by
    another process), so the version is checked against v2's tests, fails them, and is
    stored as val_2 instead of superseding v2 (hashing embedder: not about embeddings)."""
    _interleaved(str(tmp_path / "store"))


def test_a_version_verified_against_a_replaced_predecessor_is_checked_again_on_a_server(
        chroma_server):
    """The same on a Chroma server: the claim of val's slot 2 went to the other writer."""
    _interleaved(chroma_server.url)


def test_an_unfinished_claim_is_reported_finished_by_repair_and_by_the_next_writer(
        chroma_server):
    """A writer that claimed a slot and died leaves a claim without its module: `check`
    says so, `check(repair=True)` stores it; the next writer of the name finishes it first."""
    from test_store_durability import HashEmbedder

    from agentlib.library import claims

    library = Library(chroma_server.url, HashEmbedder())
    first = library.add(_val("x * 3", ["assert val(2) == 6"]))
    orphan = _val("x * 3 + 0", ["assert val(1) == 3"])
    orphan.version = 2
    from agentlib.library.text import embedding_text

    vector = HashEmbedder().embed([embedding_text(orphan)])[0]
    claims._collection(library).add(  # what claim_many writes before it dies
        ids=["val#2"], embeddings=[vector], documents=[embedding_text(orphan)],
        metadatas=[{**claims.to_metadata(orphan), "claim_slot": 2, "claim_kind": "commit",
                    "claim_previous": first.id, "claim_owner": "dead", "claim_at": 0.0}])
    assert library.get("val").id == first.id
    [problem] = library.check()
    assert "val#2" in problem and "--repair" in problem
    assert library.check(repair=True) == []
    assert library.get("val").id == orphan.id
    assert library.get_by_id(first.id).status == "superseded"
    # the next writer finishes an unfinished claim before it reads the name
    third = _val("3 * x", ["assert val(3) == 9"])
    third.version = 3
    claims._collection(library).add(
        ids=["val#3"], embeddings=[vector], documents=[embedding_text(third)],
        metadatas=[{**claims.to_metadata(third),
                    "claim_slot": 3, "claim_kind": "commit", "claim_previous": orphan.id,
                    "claim_owner": "dead", "claim_at": 0.0}])
    done = library.commit(_val("x + 2 * x", ["assert val(4) == 12"]))
    assert done.superseded is not None and done.superseded.source.endswith("3 * x\n")
    assert [m.status for m in library.history("val")] == ["superseded"] * 3 + ["active"]
    assert library.check() == []
