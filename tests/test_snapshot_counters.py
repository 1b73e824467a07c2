"""Usage counters through the journal (`agentlib.library.counters`): counted at once by
readers, folded into Chroma exactly once by the next write, even after a fold cut short.

Real Chroma on disk in tmp_path and the real MiniLM embedder; a crash is simulated by making
the Chroma update of a fold raise, which is where a killed process would stop.
"""

from __future__ import annotations

import json

import pytest

from agentlib.code import docstring, module_id, signature
from agentlib.library import counters
from agentlib.library.chroma import INSIGHTS, MODULES
from agentlib.library.store import Library
from agentlib.model import Insight, Module


def _module(name: str) -> Module:
    source = f'def {name}(x):\n    """Compute {name}."""\n    return x\n'
    return Module(id=module_id(source), name=name, source=source, signature=signature(source, name),
                  docstring=docstring(source, name), tests=[f"assert {name}(1) == 1"],
                  task_prompt=f"compute {name}")


def _in_chroma(library: Library, record_id: str, name: str = MODULES) -> dict:
    collection = library.conn.collection(name, library.collection_metadata)
    return collection.get(ids=[record_id], include=["metadatas"])["metadatas"][0]


@pytest.fixture
def stored(tmp_path, embedder):
    library = Library(str(tmp_path / "lib"), embedder)
    module = library.add(_module("ident"))
    insight = library.insights.add(Insight(id="", taxonomy="a/b", condition="when c",
                                           explanation="d"))
    return library, module, insight


def test_counts_are_read_at_once_and_written_by_the_next_write(stored, tmp_path, embedder):
    library, module, insight = stored
    library.update_counters(module.id, times_retrieved=1, times_reused=1)
    library.update_counters(module.id, times_retrieved=1)
    library.insights.update_counters(insight.id, "task one", retrieved=1, helped=1)
    assert _in_chroma(library, module.id)["times_retrieved"] == 0  # not written yet
    assert (tmp_path / "lib" / counters.JOURNAL).exists()
    for reader in (library, Library(str(tmp_path / "lib"), embedder)):
        got = reader.get("ident")
        assert (got.times_retrieved, got.times_reused, got.times_failed) == (2, 1, 0)
        assert reader.search("compute ident", k=1)[0][0].times_retrieved == 2
        counted = reader.insights.get(insight.id)
        assert (counted.retrieved, counted.helped, counted.helped_on) == (1, 1, ["task one"])
    library.add(_module("other"))  # any write folds the journal first
    assert not (tmp_path / "lib" / counters.JOURNAL).exists()
    assert _in_chroma(library, module.id)["times_retrieved"] == 2
    assert json.loads(_in_chroma(library, insight.id, INSIGHTS)["helped_on"]) == ["task one"]
    got = Library(str(tmp_path / "lib"), embedder).get("ident")
    assert (got.times_retrieved, got.times_reused) == (2, 1)  # counted once, not twice
    with pytest.raises(Exception, match="unknown counter"):
        library.update_counters(module.id, times_loved=1)


def test_a_fold_cut_short_after_deciding_is_finished_once(stored, tmp_path, embedder,
                                                          monkeypatch):
    library, module, _ = stored
    library.update_counters(module.id, times_reused=3)
    real_set = counters._set

    def killed(collections, targets):
        raise KeyboardInterrupt  # stands for the kill: the values are decided, not written

    monkeypatch.setattr(counters, "_set", killed)
    with pytest.raises(KeyboardInterrupt):
        library.add(_module("other"))
    monkeypatch.setattr(counters, "_set", real_set)
    assert (tmp_path / "lib" / counters.TARGETS).exists()
    assert not (tmp_path / "lib" / counters.JOURNAL).exists()
    library.update_counters(module.id, times_reused=1)  # a count after the crash
    library.add(_module("third"))
    assert not (tmp_path / "lib" / counters.TARGETS).exists()
    assert _in_chroma(library, module.id)["times_reused"] == 4
    assert Library(str(tmp_path / "lib"), embedder).get("ident").times_reused == 4


def test_a_journal_set_aside_but_not_folded_is_folded_once(stored, tmp_path):
    library, module, _ = stored
    library.update_counters(module.id, times_failed=2)
    (tmp_path / "lib" / counters.JOURNAL).rename(tmp_path / "lib" / counters.FOLDING)
    with open(tmp_path / "lib" / counters.JOURNAL, "a") as handle:
        handle.write('{"c": "modules", "id": "' + module.id + '", "inc": {"times_failed": 1}}\n')
        handle.write('{"c": "modules", "id": "cut sh')  # a line a crash cut short
    library.add(_module("other"))
    assert _in_chroma(library, module.id)["times_failed"] == 3
    assert not any((tmp_path / "lib" / name).exists()
                   for name in (counters.JOURNAL, counters.FOLDING, counters.TARGETS))


def test_a_long_journal_is_folded_without_waiting_for_a_write(stored, tmp_path, monkeypatch):
    library, module, _ = stored
    monkeypatch.setattr("agentlib.library.store.FOLD_BYTES", 1)  # every line is too many
    for _ in range(4):
        library.update_counters(module.id, times_retrieved=1)
    assert not (tmp_path / "lib" / counters.JOURNAL).exists()
    assert _in_chroma(library, module.id)["times_retrieved"] == 4
    assert library.get("ident").times_retrieved == 4


def test_insight_evidence_keeps_the_latest_tasks(stored, tmp_path, embedder):
    library, _, insight = stored
    for i in range(12):
        library.insights.update_counters(insight.id, f"task {i}", misled=1)
    library.insights.update_counters(insight.id, "shown only", retrieved=1)
    expected = [f"task {i}" for i in range(2, 12)]
    assert library.insights.get(insight.id).misled_on == expected
    library.add(_module("other"))
    got = Library(str(tmp_path / "lib"), embedder).insights.get(insight.id)
    assert (got.misled, got.retrieved, got.misled_on) == (12, 1, expected)
