"""The read snapshot: every record and vector of an embedded library in one file, read without
Chroma (importing chromadb alone costs ~0.5 s, more than the rest of `agentlib lib search`).

After each write, under the write lock and once the generation has changed, the library
writes `.agentlib.snapshot.npz` beside Chroma's files (a temporary file renamed over the old
one; not fsynced: a file torn by a power cut fails its zip checksums or its stamp, and is not
read): for the modules and the insights, the collection's metadata (embedder and
fingerprint), the ids, the metadata records as Chroma returns them, and the unit vectors as
float32, all stamped with the library's stamp (`library_stamp`: the generation file's inode,
mtime, size and content, which every write replaces). A reader uses the snapshot only while
no write is in progress (no marker file) and its stamp is the library's current one; anything
else (no snapshot, an older stamp, an unreadable file, a server library) reads through Chroma.
So a snapshot can be missing or stale but is never read as current after another write;
`agentlib lib check` compares a current one with Chroma and writes a missing or stale one
(`snapshot_problems`).
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agentlib.library.chroma import INSIGHTS, MODULES
from agentlib.library.exact import ExactIndex, unit_rows
from agentlib.library.location import GENERATION_FILE, WRITING_MARKER, generation_token
from agentlib.library.records import fetch_all, matches, same_value

log = logging.getLogger("agentlib.library")
SNAPSHOT_FILE = ".agentlib.snapshot.npz"
FORMAT = 1
SNAPSHOT_MAX_RECORDS = 20_000
"""Above this many records (modules and insights) no snapshot is written: rewriting it after
every write would cost more than it saves, and reads go through Chroma."""
_UNREADABLE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile)


def library_stamp(path: Path) -> str:
    """What identifies the library's latest write ('' before the first): the generation
    token and the generation file's content (a fresh random token per write)."""
    token = generation_token(path)
    try:
        content = (path / GENERATION_FILE).read_text().strip() if token else ""
    except OSError:
        return ""
    return f"{token}/{content}" if token else ""


def snapshot_path(path: Path) -> Path:
    return Path(path) / SNAPSHOT_FILE


@dataclass
class Records:
    """One collection as of one write: its metadata, ids, records and unit vectors."""

    metadata: dict[str, Any]
    ids: list[str]
    records: list[dict[str, Any]]
    vectors: np.ndarray
    _rows: dict[str, int] | None = field(default=None, repr=False)
    _index: ExactIndex | None = field(default=None, repr=False)

    def with_ids(self, ids: list[str]) -> list[dict[str, Any]]:
        """The records of `ids` that exist, in stored order."""
        if self._rows is None:
            self._rows = {record_id: row for row, record_id in enumerate(self.ids)}
        rows = sorted({self._rows[i] for i in ids if i in self._rows})
        return [self.records[row] for row in rows]

    def find(self, where: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The records meeting `where` (`records.matches`), in stored order."""
        return [r for r in self.records if matches(r, where)] if where else list(self.records)

    def index(self, generation: str) -> ExactIndex:
        """An exact search index over these records (its lists are copies: an index patches
        its own)."""
        return ExactIndex(list(self.ids), self.vectors, list(self.records), generation,
                          unit=True)

    def search_index(self, generation: str) -> ExactIndex:
        """`index`, built once (for reads that do not patch it)."""
        if self._index is None:
            self._index = self.index(generation)
        return self._index


@dataclass
class Snapshot:
    """A library's collections as of the write stamped `stamp`."""

    stamp: str
    collections: dict[str, Records]

    @property
    def generation(self) -> str:
        """The generation token (`Connection.generation`) of the write it was taken at."""
        return self.stamp.split("/", 1)[0]


def save(path: Path, snapshot: Snapshot) -> None:
    """Write the snapshot atomically (call it under the library's write lock)."""
    header = {"format": FORMAT, "stamp": snapshot.stamp, "collections": {
        name: {"metadata": c.metadata, "ids": c.ids, "records": c.records}
        for name, c in snapshot.collections.items()}}
    arrays = {f"vectors_{name}": np.ascontiguousarray(c.vectors, dtype=np.float32)
              for name, c in snapshot.collections.items()}
    target = snapshot_path(path)
    for left in target.parent.glob(f"{SNAPSHOT_FILE}.*.tmp"):  # a killed writer's
        left.unlink(missing_ok=True)
    tmp = target.with_name(f"{SNAPSHOT_FILE}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            np.savez(handle, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
                     **arrays)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def load(path: Path) -> Snapshot | None:
    """Read the snapshot file; None when there is none or it cannot be read whole."""
    try:
        with np.load(snapshot_path(path), allow_pickle=False) as data:
            header = json.loads(data["header"].tobytes())
            if header.get("format") != FORMAT:
                return None
            collections = {}
            for name in (MODULES, INSIGHTS):
                kept = header["collections"][name]
                vectors = data[f"vectors_{name}"]
                if not (len(kept["ids"]) == len(kept["records"]) == vectors.shape[0]) or \
                        vectors.dtype != np.float32 or vectors.ndim != 2:
                    return None
                collections[name] = Records(dict(kept["metadata"]), list(kept["ids"]),
                                            list(kept["records"]), vectors)
            return Snapshot(str(header["stamp"]), collections)
    except _UNREADABLE:
        return None


def remove(path: Path) -> None:
    try:
        snapshot_path(path).unlink(missing_ok=True)
    except OSError:
        pass


class SnapshotReader:
    """The snapshot of one library directory, reloaded when the library's stamp moves."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._loaded: Snapshot | None = None
        self._unusable = ""  # a stamp whose snapshot file could not be used

    def current(self) -> Snapshot | None:
        """The snapshot if it is the library as it stands now, else None (read Chroma)."""
        if (self.path / WRITING_MARKER).exists():
            return None
        stamp = library_stamp(self.path)
        if not stamp or stamp == self._unusable:
            return None
        loaded = self._loaded
        if loaded is not None and loaded.stamp == stamp:
            return loaded
        loaded = load(self.path)
        if loaded is None or loaded.stamp != stamp:
            self._loaded, self._unusable = None, stamp
            return None
        self._loaded = loaded
        return loaded

    def prime(self, snapshot: Snapshot | None) -> None:
        """Take the snapshot this process just wrote rather than read it back (None: look at
        the file again on the next read)."""
        self._loaded, self._unusable = snapshot, ""


def chroma_records(library: Any, name: str, index: ExactIndex | None = None) -> Records:
    """Collection `name` as Chroma holds it now; the vectors from `index` (an in-memory index
    of the same records, patched by this write) when it holds exactly these ids."""
    collection = library.conn.collection(name, library.collection_metadata)
    metadata = dict(collection.metadata or {})
    if index is not None:
        got = fetch_all(collection, ["metadatas"])
        if got["ids"] == index.ids:
            return Records(metadata, got["ids"], got["metadatas"], index.matrix)
    got = fetch_all(collection, ["metadatas", "embeddings"])
    return Records(metadata, got["ids"], got["metadatas"],
                   unit_rows(got["embeddings"] if got["ids"] else [], len(got["ids"])))


def write_snapshot(library: Any, index: ExactIndex | None = None) -> Snapshot | None:
    """Write the snapshot of the library as Chroma holds it now; call it under the write
    lock, after the generation moved. None (and no snapshot file) above the size limit."""
    path = library.path
    stamp = library_stamp(path)
    conn = library.conn
    if not stamp or sum(conn.collection(name, library.collection_metadata).count()
                        for name in (MODULES, INSIGHTS)) > SNAPSHOT_MAX_RECORDS:
        remove(path)
        return None
    snapshot = Snapshot(stamp, {MODULES: chroma_records(library, MODULES, index),
                                INSIGHTS: chroma_records(library, INSIGHTS)})
    save(path, snapshot)
    return snapshot


def same_record(kept: dict[str, Any], truth: dict[str, Any]) -> bool:
    """Whether two metadata records agree (a float to its last digit or two)."""
    if kept.keys() != truth.keys():
        return False
    return all(same_value(kept[key], truth[key]) for key in kept)


def differences(snapshot: Snapshot, actual: dict[str, Records]) -> list[str]:
    """What a snapshot gets wrong about the collections as Chroma holds them (`actual`)."""
    problems = []
    for name, truth in actual.items():
        kept = snapshot.collections[name]
        if kept.metadata != truth.metadata:
            problems.append(f"the snapshot's {name} embedder differs from Chroma's")
        if kept.ids != truth.ids:
            missing, extra = set(truth.ids) - set(kept.ids), set(kept.ids) - set(truth.ids)
            problems.append(f"the snapshot's {name}: {len(missing)} record(s) missing, "
                            f"{len(extra)} not in Chroma" if missing or extra
                            else f"the snapshot's {name} are in another order than Chroma's")
            continue
        stale = sum(not same_record(a, b) for a, b in zip(kept.records, truth.records,
                                                           strict=True))
        wrong = int((~np.isclose(kept.vectors, truth.vectors, atol=1e-5)).any(axis=1).sum()) \
            if kept.vectors.shape == truth.vectors.shape else len(kept.ids)
        if stale:
            problems.append(f"the snapshot's {name}: {stale} record(s) differ from Chroma's")
        if wrong:
            problems.append(f"the snapshot's {name}: {wrong} vector(s) differ from Chroma's")
    return problems


def snapshot_problems(library: Any, repair: bool, probed: tuple[str, str] | None) -> list[str]:
    """What is wrong with the read snapshot of an embedded library: one that is current but
    differs from Chroma (readers would be served it); with `repair`, rewrite it instead. A
    missing or stale one (written before the latest write: a write that failed, was killed,
    or ran out of space) is never read, and is written afresh here.

    Call it once the vectors were read back whole (`integrity.check`). `probed`: the stamps
    before and after that probe, a write that changed no record, so a snapshot stamped just
    before it is compared, and if right, stamped anew.
    """
    conn = library.conn
    if conn.server or conn.read_only:
        return []
    with conn.write(bump=False, snapshot=False):
        stamp, kept = library_stamp(library.path), load(library.path)
        current = kept is not None and (kept.stamp == stamp or (
            probed is not None and (kept.stamp, stamp) == probed))
        if repair or not current:
            library.snapshot_written(write_snapshot(library))
            return []
        actual = {name: chroma_records(library, name) for name in (MODULES, INSIGHTS)}
        problems = [f"snapshot: {p}; `agentlib lib check --repair` rewrites it"
                    for p in differences(kept, actual)]
        if not problems and kept.stamp != stamp:
            save(library.path, Snapshot(stamp, kept.collections))
            library.snapshot_written(None)
        return problems
