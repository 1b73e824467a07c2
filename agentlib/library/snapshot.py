"""The read snapshot: every record and vector of an embedded library in one file, read without
Chroma (importing chromadb alone costs ~0.7 s, more than everything else a reused solve does).

After each write, under the write lock and once the generation has changed, the library
writes `.agentlib.snapshot.npz` beside Chroma's files (a temporary file, fsynced, renamed over
the old one): for the modules and the insights, the collection's metadata (embedder and
fingerprint), the ids, the metadata records exactly as Chroma holds them, and the unit vectors
as float32, all stamped with the generation token it was written at. A reader uses it only
when no write is in progress and its stamp is the library's current generation; anything else
(no snapshot, an older stamp, an unreadable file, a server library) reads through Chroma. So
a snapshot can be missing or stale but never wrong, unless written wrongly, which
`agentlib lib check` looks for (`differences`).
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agentlib.library.chroma import (
    INSIGHTS,
    MODULES,
    fetch_all,
    generation_token,
    write_in_progress,
)

SNAPSHOT_FILE = ".agentlib.snapshot.npz"
FORMAT = 1


def matches(record: dict[str, Any], where: dict[str, Any]) -> bool:
    """Whether a metadata record meets equality conditions (a list value: one of them)."""
    return all(record.get(key) in value if isinstance(value, list) else record.get(key) == value
               for key, value in where.items())


@dataclass
class Records:
    """One collection as of one generation: its metadata, ids, records and unit vectors."""

    metadata: dict[str, Any]
    ids: list[str]
    records: list[dict[str, Any]]
    vectors: np.ndarray
    _rows: dict[str, int] | None = field(default=None, repr=False)
    _index: Any = field(default=None, repr=False)

    def get(self, record_id: str) -> dict[str, Any] | None:
        if self._rows is None:
            self._rows = {record_id: row for row, record_id in enumerate(self.ids)}
        row = self._rows.get(record_id)
        return None if row is None else self.records[row]

    def find(self, where: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The records meeting `where` (see `matches`), in stored order."""
        return [r for r in self.records if matches(r, where)] if where else list(self.records)

    def index(self, generation: str):
        """The exact search index over these records (built once)."""
        from agentlib.library.exact import ExactIndex

        if self._index is None:
            self._index = ExactIndex(list(self.ids), self.vectors, list(self.records),
                                     generation)  # copies: the index patches its own lists
        return self._index


@dataclass
class Snapshot:
    """A library's collections as of the generation `generation`."""

    generation: str
    collections: dict[str, Records]


def snapshot_path(library_dir: Path) -> Path:
    return Path(library_dir) / SNAPSHOT_FILE


def unit_rows(vectors: Any, count: int) -> np.ndarray:
    """Vectors as a float32 matrix of `count` unit rows (a zero row stays zero)."""
    matrix = np.asarray(vectors, dtype=np.float32).reshape(count, -1) if count \
        else np.zeros((0, 0), dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def save(library_dir: Path, snapshot: Snapshot) -> None:
    """Write the snapshot atomically (call it under the library's write lock)."""
    header = {"format": FORMAT, "generation": snapshot.generation, "collections": {
        name: {"metadata": c.metadata, "ids": c.ids,
               "records": [{k: v for k, v in r.items() if v is not None} for r in c.records]}
        for name, c in snapshot.collections.items()}}
    arrays = {f"vectors_{name}": np.ascontiguousarray(c.vectors, dtype=np.float32)
              for name, c in snapshot.collections.items()}
    target = snapshot_path(library_dir)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            np.savez(handle, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
                     **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def stamp(library_dir: Path) -> str | None:
    """The generation a snapshot file was written at (None: no readable snapshot)."""
    try:
        with np.load(snapshot_path(library_dir), allow_pickle=False) as data:
            return str(json.loads(data["header"].tobytes())["generation"])
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None


def load(library_dir: Path) -> Snapshot | None:
    """Read the snapshot file; None when there is none or it cannot be read whole."""
    try:
        with np.load(snapshot_path(library_dir), allow_pickle=False) as data:
            header = json.loads(data["header"].tobytes())
            if header.get("format") != FORMAT:
                return None
            collections = {}
            for name, c in header["collections"].items():
                vectors = data[f"vectors_{name}"]
                if not (len(c["ids"]) == len(c["records"]) == vectors.shape[0]):
                    return None
                collections[name] = Records(c["metadata"], c["ids"], c["records"], vectors)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None
    return Snapshot(str(header["generation"]), collections)


class SnapshotReader:
    """The snapshot of one library directory, reloaded when the library's generation moves."""

    def __init__(self, library_dir: Path) -> None:
        self.path = Path(library_dir)
        self._loaded: Snapshot | None = None
        self._missing_at: str | None = None  # a generation whose snapshot could not be used

    def current(self) -> Snapshot | None:
        """The snapshot if it is the library as it stands now, else None (read Chroma)."""
        if write_in_progress(self.path):
            return None
        generation = generation_token(self.path)
        if not generation or generation == self._missing_at:
            return None
        if self._loaded is not None and self._loaded.generation == generation:
            return self._loaded
        loaded = load(self.path)
        if loaded is None or loaded.generation != generation:
            self._loaded, self._missing_at = None, generation
            return None
        self._loaded = loaded
        return loaded

    def forget(self) -> None:
        """Look at the file again on the next read (it was just written)."""
        self._missing_at = None

    def prime(self, snapshot: Snapshot) -> None:
        """Take the snapshot this process just wrote, rather than read it back."""
        self._loaded, self._missing_at = snapshot, None


def same_record(kept: dict[str, Any], truth: dict[str, Any]) -> bool:
    """Whether two metadata records agree; a float may differ in its last digit (Chroma's
    SQLite keeps ~16 significant digits of, say, `created_at`, the writer's copy all 17)."""
    if kept.keys() != truth.keys():
        return False
    return all(a == b or (isinstance(a, float) and isinstance(b, float)
                          and math.isclose(a, b, rel_tol=1e-12)) for a, b in
               ((kept[key], truth[key]) for key in kept))


def differences(snapshot: Snapshot, actual: dict[str, Records]) -> list[str]:
    """What a snapshot gets wrong about the collections as Chroma holds them (`actual`)."""
    problems = []
    for name, truth in actual.items():
        kept = snapshot.collections.get(name)
        if kept is None:
            problems.append(f"snapshot: has no {name}")
            continue
        if kept.metadata != truth.metadata:
            problems.append(f"snapshot: the {name}' embedder differs from Chroma's")
        ids = set(truth.ids)
        missing, extra = sorted(ids - set(kept.ids)), sorted(set(kept.ids) - ids)
        if missing or extra:
            problems.append(f"snapshot: {len(missing)} {name} record(s) missing, "
                            f"{len(extra)} not in Chroma")
        rows = {record_id: row for row, record_id in enumerate(truth.ids)}
        stale = wrong = 0
        for row, record_id in enumerate(kept.ids):
            if record_id not in rows:
                continue
            other = rows[record_id]
            stale += not same_record(kept.records[row], truth.records[other])
            wrong += not np.allclose(kept.vectors[row], truth.vectors[other], atol=1e-5)
        if stale:
            problems.append(f"snapshot: {stale} {name} record(s) differ from Chroma's")
        if wrong:
            problems.append(f"snapshot: {wrong} {name} vector(s) differ from Chroma's")
    return problems


def chroma_records(conn: Any, name: str, metadata: dict[str, Any]) -> Records:
    """Collection `name` as Chroma holds it now."""
    collection = conn.collection(name, metadata)
    got = fetch_all(collection, ["embeddings", "metadatas"])
    return Records(dict(collection.metadata or {}), got["ids"], got["metadatas"],
                   unit_rows(got["embeddings"], len(got["ids"])))


def save_after_commit(library_dir: Path, snapshot: Snapshot) -> bool:
    """`save`, from a write that has committed: a failure (a full disk, a read-only library)
    must not fail the write, and leaves a snapshot of an older generation that no reader
    uses. True when written."""
    try:
        save(library_dir, snapshot)
    except (OSError, ValueError, TypeError):
        return False
    return True


def refresh_snapshot(library: Any, modules: Records | None = None) -> bool:
    """Write the snapshot of an embedded library that has none of its current generation (one
    built before snapshots, or whose last writer could not write it); True when written.

    For when every vector was just read in this process (`modules`, or `lib check` after
    probing them): reading a torn index can crash it. Takes the write lock without waiting
    (a writer holding it writes a snapshot as it commits) and changes nothing in Chroma, so
    the generation stays as it is.
    """
    from filelock import FileLock, Timeout

    path = library.path
    if path is None or write_in_progress(path) or stamp(path) == generation_token(path):
        return False
    try:
        with FileLock(str(path / ".agentlib.lock"), timeout=0):
            generation = generation_token(path)
            if write_in_progress(path) or not generation or stamp(path) == generation or \
                    generation != library.conn.generation():
                return False
            collections = {MODULES: modules or chroma_records(library.conn, MODULES,
                                                              library.collection_metadata),
                           INSIGHTS: chroma_records(library.conn, INSIGHTS,
                                                    library.collection_metadata)}
            return save_after_commit(path, Snapshot(generation, collections))
    except (Timeout, OSError):
        return False


def snapshot_problems(library: Any) -> list[str]:
    """What the current snapshot gets wrong about Chroma, under the write lock; with none
    current (every read then goes through Chroma), write one. Call it once the vectors were
    probed readable (`integrity.check`): a snapshot current before the probe, a write that
    changed no record, is compared, and if right, stamped with the generation after it."""
    from filelock import FileLock

    path = library.path
    if path is None:
        return []
    moved = library.conn.unchanged
    with FileLock(str(path / ".agentlib.lock"), timeout=300):
        kept, generation = load(path), generation_token(path)
        if kept is not None and kept.generation != generation and not (
                moved and kept.generation == moved[0] and generation == moved[1]):
            kept = None  # a write changed records since: a stale snapshot is never read
        if kept is not None and not write_in_progress(path):
            actual = {name: chroma_records(library.conn, name, library.collection_metadata)
                      for name in (MODULES, INSIGHTS)}
            problems = differences(kept, actual)
            if not problems and kept.generation != generation:
                save_after_commit(path, Snapshot(generation, kept.collections))
            return [f"{problem}; run `agentlib lib check --repair` (or `agentlib lib "
                    "reindex`) to rewrite it" for problem in problems]
    refresh_snapshot(library)  # none to compare: write one, the vectors read back whole
    return []
