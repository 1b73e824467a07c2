"""The read side of a library: records from the read snapshot while it is current
(`agentlib.library.snapshot`), else from Chroma, with this process's pending counters.

`LibraryReads` is the base of `agentlib.library.store.Library`, which sets what it reads
from: `server`, `path` (None for a server), `embedder`, `collection_metadata`, `conn` (Chroma,
opened on first use), `snapshots` (a `SnapshotReader`, None where snapshots are not used),
`pending` (the counters not yet written) and `_exact` (the in-memory index of the modules).
"""

from __future__ import annotations

from typing import Any

from agentlib.code import module_closure, program_source
from agentlib.library import claims
from agentlib.library.chroma import INSIGHTS, MODULES
from agentlib.library.exact import EXACT_MAX_RECORDS, ExactIndex
from agentlib.library.location import generation_token
from agentlib.library.records import fetch_all, from_metadata, where_clause
from agentlib.library.snapshot import Snapshot
from agentlib.model import Module


class LibraryReads:
    """Find and read modules and insights (see the module docstring for what it reads)."""

    server: bool
    path: Any
    embedder: Any
    collection_metadata: dict[str, Any]
    conn: Any
    snapshots: Any
    pending: Any
    _exact: ExactIndex | None

    @property
    def modules(self):
        """The Chroma collection of modules."""
        return self.conn.collection(MODULES, self.collection_metadata)

    def embed(self, text: str) -> list[float]:
        return list(self.embedder.embed([text])[0])

    def snapshot(self) -> Snapshot | None:
        """The read snapshot if it is the library as it stands and fits this embedder."""
        found = self.snapshots.current() if self.snapshots is not None else None
        if found is None or any(found.collections[name].metadata.get("embedder_fingerprint")
                                not in (None, self.embedder.fingerprint)
                                for name in (MODULES, INSIGHTS)):
            return None
        return found

    def snapshot_written(self, snapshot: Snapshot | None) -> None:
        """Note the snapshot this process just wrote (None: read the file again)."""
        if self.snapshots is not None:
            self.snapshots.prime(snapshot)

    def records(self, name: str, where: dict[str, Any] | None = None,
                ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Metadata records of collection `name` with `ids`, or meeting `where` (equality; a
        list value: one of them), from the snapshot while current, else from Chroma."""
        snap = self.snapshot()
        if snap is not None:
            kept = snap.collections[name]
            return kept.with_ids(ids) if ids is not None else kept.find(where)
        collection = self.conn.collection(name, self.collection_metadata)
        if ids is not None:
            return collection.get(ids=ids, include=["metadatas"])["metadatas"]
        return fetch_all(collection, ["metadatas"], where_clause(where or {}))["metadatas"]

    def record_count(self, name: str) -> int:
        """How many records collection `name` holds (every status)."""
        snap = self.snapshot()
        if snap is not None:
            return len(snap.collections[name].ids)
        return self.conn.collection(name, self.collection_metadata).count()

    def stored(self, module_id: str) -> Module | None:
        """The record of `module_id` as Chroma holds it (without this process's pending
        counters; for writes)."""
        got = self.modules.get(ids=[module_id], include=["metadatas"])
        return from_metadata(got["metadatas"][0]) if got["ids"] else None

    def _record(self, meta: dict[str, Any]) -> Module:
        return self.pending.view("modules", from_metadata(meta))

    def get_by_id(self, module_id: str) -> Module | None:
        found = self.records(MODULES, ids=[module_id])
        return self._record(found[0]) if found else None

    def get(self, name: str) -> Module | None:
        """Return the active module called `name`, if any (the newest, should a server
        briefly show two)."""
        found = [self._record(m) for m in self.records(MODULES, {"name": name,
                                                                 "status": "active"})]
        return max(found, key=lambda m: m.version) if found else None

    def head(self, name: str) -> "claims.Head":
        """Where `name` stands: its latest claimed slot (servers) and its active module."""
        if self.server:
            return claims.head(self, name)
        return claims.Head(0, self.get(name))

    def list(self, status: str | None = "active") -> list[Module]:
        """Return modules with `status` (None: every status), sorted by name then version."""
        found = self.records(MODULES, {"status": status} if status else None)
        return sorted((self._record(m) for m in found), key=lambda m: (m.name, m.version))

    def history(self, name: str) -> list[Module]:
        """Return every version of `name` (active, superseded or pruned), oldest first."""
        return sorted((self._record(m) for m in self.records(MODULES, {"name": name})),
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
        exact = self._exact_index()
        if exact is not None:
            return [(self._record(m), d) for m, d in exact.search(vector, k, where)]
        got = self.modules.query(query_embeddings=[vector], n_results=k, where=where_clause(where),
                                 include=["metadatas", "distances"])
        return [(self._record(m), d) for m, d in zip(got["metadatas"][0], got["distances"][0],
                                                     strict=True)]

    def nearest(self, name: str, vector: list[float], k: int,
                where: dict[str, Any] | None = None) -> list[tuple[dict[str, Any], float]]:
        """(record, cosine distance) of the k records of collection `name` nearest to
        `vector` that meet `where`: an exact scan of the snapshot while it is current, else
        Chroma's index."""
        snap = self.snapshot()
        if snap is not None:
            return snap.collections[name].search_index(snap.generation).search(
                vector, k, where or {})
        collection = self.conn.collection(name, self.collection_metadata)
        count = collection.count()
        if k <= 0 or count == 0:
            return []
        got = collection.query(query_embeddings=[vector], n_results=min(k, count),
                               where=where_clause(where or {}),
                               include=["metadatas", "distances"])
        return list(zip(got["metadatas"][0], got["distances"][0], strict=True))

    def _exact_index(self) -> ExactIndex | None:
        """The in-memory exact index while the library is small (embedded mode only): kept
        while the generation stands, else built from the snapshot, else read from Chroma."""
        if self.server:
            return None
        generation = generation_token(self.path)
        if self._exact is not None and self._exact.generation == generation and \
                (generation or self.conn.read_only):
            return self._exact
        snap = self.snapshot()
        if snap is not None:
            self._exact = snap.collections[MODULES].index(snap.generation)
            return self._exact
        self._exact = None
        if self.modules.count() > EXACT_MAX_RECORDS:
            return None
        self._exact = ExactIndex.load(self.modules, generation)
        return self._exact

    def forget_index(self) -> None:
        """Drop the in-memory search index (the next search reloads it)."""
        self._exact = None

    def program_for(self, module: Module) -> str:
        """Return self-contained source: dependencies in topological order, then the module."""
        return program_source(module_closure(module, self.get))

    def active_names(self, names: set[str]) -> set[str]:
        """Return those of `names` that name an active module (one query)."""
        return {m.name for m in self.active_modules(names)}

    def active_modules(self, names: set[str]) -> list[Module]:
        """Return the active modules among `names` (one query)."""
        if not names:
            return []
        return [self._record(meta) for meta in
                self.records(MODULES, {"name": sorted(names), "status": "active"})]
