"""The read side of a library: records from the read snapshot while it is current, else
from Chroma, with the usage counters the journal has not folded in yet.

`LibraryReads` is the base of `agentlib.library.store.Library`, which sets what it reads
from: `path` (None for a server), `embedder`, `collection_metadata`, `conn` (Chroma, opened
on first use), `_conn` (None until then), `_snapshots` (a `SnapshotReader`, None when
snapshots are not used), `_journal` (a `JournalReader`, None for a server), `_exact` (the
in-memory index of the modules).
"""

from __future__ import annotations

from typing import Any

from agentlib.code import module_closure, program_source
from agentlib.library.chroma import INSIGHTS, MODULES, fetch_all, generation_token, where_clause
from agentlib.library.exact import EXACT_MAX_RECORDS, ExactIndex
from agentlib.library.records import from_metadata
from agentlib.library.snapshot import Snapshot, chroma_records, refresh_snapshot
from agentlib.model import Module


class LibraryReads:
    """Find and read modules and insights (see the module docstring for what it reads)."""

    path: Any
    embedder: Any
    collection_metadata: dict[str, Any]
    conn: Any
    _conn: Any
    _snapshots: Any
    _journal: Any
    _exact: ExactIndex | None

    @property
    def modules(self):
        """The Chroma collection of modules."""
        return self.conn.collection(MODULES, self.collection_metadata)

    def embed(self, text: str) -> list[float]:
        return list(self.embedder.embed([text])[0])

    def _snapshot(self) -> Snapshot | None:
        """The read snapshot if it is the library as it stands and fits this embedder."""
        found = self._snapshots.current() if self._snapshots is not None else None
        if found is None or any(
                name not in found.collections or found.collections[name].metadata.get(
                    "embedder_fingerprint") not in (None, self.embedder.fingerprint)
                for name in (MODULES, INSIGHTS)):
            return None
        return found

    def _counted(self, name: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records with the journal's pending counter updates (none inside a write: what a
        write reads, it may write back, and the journal was folded at its start)."""
        if self._journal is None or (self._conn is not None and self._conn.writing):
            return records
        return self._journal.apply(name, records)

    def records(self, name: str, where: dict[str, Any] | None = None,
                ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Metadata records of collection `name` with `ids`, or meeting `where` (equality; a
        list value: one of them), from the snapshot while current, else from Chroma."""
        snap = self._snapshot()
        if snap is not None:
            kept = snap.collections[name]
            found = [r for r in map(kept.get, ids) if r is not None] if ids is not None \
                else kept.find(where)
        else:
            collection = self.conn.collection(name, self.collection_metadata)
            found = (collection.get(ids=ids, include=["metadatas"]) if ids is not None else
                     fetch_all(collection, ["metadatas"], where_clause(where or {})))["metadatas"]
        return self._counted(name, found)

    def record_count(self, name: str) -> int:
        """How many records collection `name` holds (every status)."""
        snap = self._snapshot()
        if snap is not None:
            return len(snap.collections[name].ids)
        return self.conn.collection(name, self.collection_metadata).count()

    def nearest(self, name: str, vector: list[float], k: int,
                where: dict[str, Any]) -> list[tuple[dict[str, Any], float]]:
        """(record, cosine distance) of the k records of `name` nearest to `vector` that meet
        `where`: an exact scan of the in-memory vectors, or Chroma's index for a server."""
        if name == MODULES:
            index = self._exact_index()
        else:
            snap = self._snapshot()
            index = snap.collections[name].index(snap.generation) if snap else None
        if index is not None:
            found = index.search(vector, k, where)
        else:
            collection = self.conn.collection(name, self.collection_metadata)
            got = collection.query(query_embeddings=[vector],
                                   n_results=k if name == MODULES else min(k, collection.count()),
                                   where=where_clause(where), include=["metadatas", "distances"])
            found = list(zip(got["metadatas"][0], got["distances"][0], strict=True))
        records = self._counted(name, [record for record, _ in found])
        return [(record, distance) for record, (_, distance) in zip(records, found, strict=True)]

    def get_by_id(self, module_id: str) -> Module | None:
        found = self.records(MODULES, ids=[module_id])
        return from_metadata(found[0]) if found else None

    def get(self, name: str) -> Module | None:
        """Return the active module called `name`, if any."""
        found = self.records(MODULES, {"name": name, "status": "active"})
        return from_metadata(found[0]) if found else None

    def list(self, status: str | None = "active") -> list[Module]:
        """Return modules with `status` (None: every status), sorted by name then version."""
        found = self.records(MODULES, {"status": status} if status else None)
        return sorted(map(from_metadata, found), key=lambda m: (m.name, m.version))

    def history(self, name: str) -> list[Module]:
        """Return every version of `name` (active, superseded or pruned), oldest first."""
        return sorted(map(from_metadata, self.records(MODULES, {"name": name})),
                      key=lambda m: (m.version, m.created_at))

    def count(self) -> int:
        return self.record_count(MODULES)

    def dependents(self, name: str) -> list[str]:
        """Return the active modules that need `name`, directly or through others."""
        users: dict[str, list[str]] = {}
        for module in self.list():
            for dep in module.dependencies:
                users.setdefault(dep, []).append(module.name)
        found: list[str] = []
        todo = [name]
        while todo:
            for user in users.get(todo.pop(), []):
                if user not in found and user != name:
                    found.append(user)
                    todo.append(user)
        return sorted(found)

    def search(self, text: str, k: int = 5,
               filters: dict[str, Any] | None = None) -> list[tuple[Module, float]]:
        """Return up to k active modules nearest to `text`, with cosine distances.

        `filters` are equality conditions on Module fields, e.g. {"backend": "local"};
        {"status": "superseded"} searches old versions instead of active ones.
        """
        if k <= 0 or self.count() == 0:
            return []
        return self.search_vector(self.embed(text), k, filters)

    def search_vector(self, vector: list[float], k: int = 5,
                      filters: dict[str, Any] | None = None) -> list[tuple[Module, float]]:
        """Like `search`, for a vector already embedded."""
        where = {"status": "active", **(filters or {})}
        return [(from_metadata(m), d) for m, d in self.nearest(MODULES, vector, k, where)]

    def _exact_index(self) -> ExactIndex | None:
        """The in-memory exact index while the library is small (embedded mode only)."""
        if self.path is None:
            return None
        generation = generation_token(self.path)
        if self._exact is not None and self._exact.generation == generation and generation:
            return self._exact
        snap = self._snapshot()
        if snap is not None:
            self._exact = snap.collections[MODULES].index(snap.generation)
            return self._exact
        self._exact = None
        if self.modules.count() > EXACT_MAX_RECORDS:
            return None
        modules = chroma_records(self.conn, MODULES, self.collection_metadata)
        self._exact = modules.index(generation)
        if refresh_snapshot(self, modules) and self._snapshots is not None:
            self._snapshots.forget()  # every vector was just read: the next process needn't
        return self._exact

    def program_for(self, module: Module) -> str:
        """Return self-contained source: dependencies in topological order, then the module."""
        return program_source(module_closure(module, self.get))

    def active_names(self, names: set[str]) -> set[str]:
        """Return those of `names` that name an active module (one query)."""
        if not names:
            return set()
        found = self.records(MODULES, {"name": sorted(names), "status": "active"})
        return {meta["name"] for meta in found}

