"""All-or-nothing writes under kill -9, and several processes writing one library at once.

The child processes embed with a cheap deterministic hashing embedder (dimension 384): these
tests are about durability, not embedding quality, and must not load a model per process.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from agentlib.code import docstring, module_id, signature
from agentlib.library.store import Library
from agentlib.model import Module

HERE = Path(__file__).parent


class HashEmbedder:
    """Deterministic unit vectors from a text hash (no model, no download)."""

    name = "hash-384"
    fingerprint = "hash-384-v1"
    dimension = 384

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            seed = int(hashlib.sha256(text.encode()).hexdigest()[:16], 16)
            vector = np.random.default_rng(seed).standard_normal(self.dimension)
            vectors.append((vector / np.linalg.norm(vector)).tolist())
        return vectors


def make_module(prefix: str, i: int) -> Module:
    """Module i of a batch; every fifth one calls the one before it (a dependency)."""
    name = f"{prefix}_{i}"
    if i % 5 == 4:
        source = f'def {name}(x):\n    """Add {i}."""\n    return {prefix}_{i - 1}(x) + 1\n'
        tests = [f"assert {name}(0) == {i}"]
    else:
        source = f'def {name}(x):\n    """Add {i}."""\n    return x + {i}\n'
        tests = [f"assert {name}(0) == {i}", f"assert {name}(1) == {i + 1}"]
    return Module(id=module_id(source), name=name, source=source,
                  signature=signature(source, name), docstring=docstring(source, name),
                  tests=tests, task_prompt=f"add {i}", task_id=f"{prefix}-{i}")


def child_main(store: str, prefix: str, count: int) -> None:
    """Store `count` modules one by one (run in a child process)."""
    library = Library(store, HashEmbedder())
    assert library.conn is not None  # Chroma open (a current read snapshot defers it)
    print("ready", flush=True)
    for i in range(count):
        library.add(make_module(prefix, i))
    print("done", flush=True)


def spawn(store: Path, prefix: str, count: int) -> subprocess.Popen:
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); "
            f"from test_store_durability import child_main; "
            f"child_main({str(store)!r}, {prefix!r}, {count})")
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def present_and_complete(library: Library, prefix: str, count: int) -> int:
    """Return how many of the batch are stored; assert each is whole and they form a prefix."""
    stored = library.modules.get(where={"task_id": {"$in": [f"{prefix}-{i}" for i in
                                                            range(count)]}},
                                 include=["embeddings", "documents", "metadatas"])
    by_name = {meta["name"]: (vector, doc) for meta, vector, doc in
               zip(stored["metadatas"], stored["embeddings"], stored["documents"], strict=True)}
    for i in range(len(by_name)):
        expected = make_module(prefix, i)
        module = library.get(expected.name)
        assert module is not None, f"{expected.name} missing but a later module is stored"
        assert (module.id, module.source, module.tests) == \
            (expected.id, expected.source, expected.tests)
        assert module.dependencies == ([f"{prefix}_{i - 1}"] if i % 5 == 4 else [])
        vector, document = by_name[expected.name]
        assert len(vector) == 384 and document
    return len(by_name)


def test_kill_9_mid_write_leaves_every_module_whole_or_absent(tmp_path):
    store = tmp_path / "store"
    rng = random.Random(4)
    partial = 0
    for round_ in range(20):
        prefix = f"r{round_}"
        child = spawn(store, prefix, 100)
        assert child.stdout.readline().strip() == "ready"
        try:
            child.wait(timeout=rng.uniform(0.05, 1.2))
        except subprocess.TimeoutExpired:
            os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        library = Library(str(store), HashEmbedder())
        assert library.check() == [], f"round {round_}"
        stored = present_and_complete(library, prefix, 100)
        partial += 0 < stored < 100
    assert partial >= 10, f"only {partial} of 20 kills landed mid-batch; the test proves little"


def test_two_processes_store_200_modules_each_into_one_library(tmp_path):
    store = tmp_path / "store"
    Library(str(store), HashEmbedder())
    children = [spawn(store, prefix, 200) for prefix in ("a", "b")]
    for child in children:
        out, _ = child.communicate(timeout=300)
        assert child.returncode == 0 and out.split() == ["ready", "done"]
    library = Library(str(store), HashEmbedder())
    assert library.count() == 400
    assert present_and_complete(library, "a", 200) == 200
    assert present_and_complete(library, "b", 200) == 200
    assert library.check() == []
    for prefix in ("a", "b"):  # the vector index found every one of them
        module = library.get(f"{prefix}_123")
        best = library.modules.query(query_embeddings=HashEmbedder().embed(
            [library.modules.get(ids=[module.id], include=["documents"])["documents"][0]]),
            n_results=1)
        assert best["ids"][0] == [module.id]


def _tear(store: Path) -> None:
    """Truncate Chroma's HNSW data files, as a crash in the middle of persisting them would."""
    from agentlib.library.chroma import connect

    connect(str(store)).reopen()  # let go of the in-memory index before tearing its files
    index_files = list(store.glob("*/data_level0.bin"))
    assert index_files, "expected Chroma's HNSW segment files on disk"
    for file in index_files:
        os.truncate(file, 20_000)
    connect(str(store)).reopen()


def test_torn_vector_index_is_detected_and_rebuilt(tmp_path):
    store = tmp_path / "store"
    count = 1100  # past Chroma's HNSW sync threshold (1000), so the index is on disk
    Library(str(store), HashEmbedder()).add_many([make_module("t", i) for i in range(count)])
    _tear(store)
    library = Library(str(store), HashEmbedder())
    problems = library.check()
    assert problems and all("agentlib lib reindex" in p for p in problems)
    assert problems[0].startswith("modules:")
    assert library.reindex() == count
    assert library.check() == []
    assert present_and_complete(library, "t", count) == count

    _tear(store)
    (store / ".agentlib.writing").touch()  # what a writer killed mid-write leaves behind
    library = Library(str(store), HashEmbedder())  # finds the marker and rebuilds on open
    assert not (store / ".agentlib.writing").exists()
    assert library.check() == []
    document = library.modules.get(ids=[make_module("t", 7).id], include=["documents"])
    vector = HashEmbedder().embed(document["documents"])[0]
    assert library.search_vector(vector, 1)[0][0].name == "t_7"
