"""The persistent library of modules, on Chroma (embedded on disk, or a Chroma server)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

from agentlib.code import (
    DependencyError,
    dependencies,
    dependency_closure,
    dependency_problems,
    external_names,
    module_closure,
    program_source,
)
from agentlib.errors import StoreError
from agentlib.library.chroma import (
    INSIGHTS,
    MODULES,
    connect,
    fetch_all,
    rebuild_collection,
    where_clause,
)
from agentlib.library.exact import EXACT_MAX_RECORDS, ExactIndex
from agentlib.library.records import SHOWN_COUNTERS, from_metadata, to_metadata
from agentlib.library.text import embedding_text
from agentlib.model import Module

REINDEX_HINT = "run `agentlib lib reindex` to re-embed the library with the configured embedder"


class Library:
    """Modules and insights with their tests and embeddings; every write is all or nothing.

    Each write is one Chroma upsert (one SQLite transaction) under the library's write lock,
    so a crash leaves a record stored whole or not at all, and processes never interleave.
    """

    def __init__(self, location: str, embedder: Any, *, check_embedder: bool = True) -> None:
        from agentlib.library.insights import InsightStore

        self.location = location
        self.embedder = embedder
        self.conn = connect(location)
        self.conn.refresh()
        self.conn.recovery = self._recover_vectors
        self.collection_metadata = {"embedder": embedder.name,
                                    "embedder_fingerprint": embedder.fingerprint,
                                    "dimension": int(getattr(embedder, "dimension", 0) or 0)}
        self._exact: ExactIndex | None = None
        self._patches: list[tuple[list[Module], list[list[float]] | None]] | None = None
        if check_embedder:
            for collection in (self.modules, self.conn.collection(
                    INSIGHTS, self.collection_metadata)):
                self._check_embedder(collection)
        self.insights = InsightStore(self)
        self.conn.recover_if_interrupted()

    @property
    def modules(self):
        """The Chroma collection of modules."""
        return self.conn.collection(MODULES, self.collection_metadata)

    def _check_embedder(self, collection) -> None:
        stored = collection.metadata or {}
        if stored.get("embedder_fingerprint") not in (None, self.embedder.fingerprint):
            raise StoreError(
                f"the {collection.name} in {self.location} were embedded with "
                f"{stored.get('embedder')} ({stored.get('embedder_fingerprint')}), not "
                f"{self.embedder.name} ({self.embedder.fingerprint}); vectors of two models "
                f"cannot be compared: {REINDEX_HINT}")

    def embed(self, text: str) -> list[float]:
        return list(self.embedder.embed([text])[0])

    # ------------------------------------------------------------------ reads

    def get_by_id(self, module_id: str) -> Module | None:
        got = self.modules.get(ids=[module_id], include=["metadatas"])
        return from_metadata(got["metadatas"][0]) if got["ids"] else None

    def get(self, name: str) -> Module | None:
        """Return the active module called `name`, if any."""
        got = self.modules.get(where={"$and": [{"name": name}, {"status": "active"}]},
                               include=["metadatas"])
        return from_metadata(got["metadatas"][0]) if got["ids"] else None

    def list(self, status: str | None = "active") -> list[Module]:
        """Return modules with `status` (None: every status), sorted by name then version."""
        where = {"status": status} if status else None
        got = fetch_all(self.modules, ["metadatas"], where)
        return sorted((from_metadata(m) for m in got["metadatas"]),
                      key=lambda m: (m.name, m.version))

    def history(self, name: str) -> list[Module]:
        """Return every version of `name` (active, superseded or pruned), oldest first."""
        got = self.modules.get(where={"name": name}, include=["metadatas"])
        return sorted((from_metadata(m) for m in got["metadatas"]),
                      key=lambda m: (m.version, m.created_at))

    def count(self) -> int:
        return self.modules.count()

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
        if k <= 0 or self.modules.count() == 0:
            return []
        return self.search_vector(self.embed(text), k, filters)

    def search_vector(self, vector: list[float], k: int = 5,
                      filters: dict[str, Any] | None = None) -> list[tuple[Module, float]]:
        """Like `search`, for a vector already embedded."""
        where = {"status": "active", **(filters or {})}
        exact = self._exact_index()
        if exact is not None:
            return [(from_metadata(m), d) for m, d in exact.search(vector, k, where)]
        got = self.modules.query(query_embeddings=[vector], n_results=k, where=where_clause(where),
                                 include=["metadatas", "distances"])
        return [(from_metadata(m), d) for m, d in zip(got["metadatas"][0], got["distances"][0], strict=True)]

    def _exact_index(self) -> ExactIndex | None:
        """The in-memory exact index while the library is small (embedded mode only)."""
        if self.conn.server:
            return None
        generation = self.conn.generation()
        if self._exact is not None and self._exact.generation == generation and generation:
            return self._exact
        self._exact = None
        if self.modules.count() > EXACT_MAX_RECORDS:
            return None
        self._exact = ExactIndex.load(self.modules, generation)
        return self._exact

    def program_for(self, module: Module) -> str:
        """Return self-contained source: dependencies in topological order, then the module."""
        return program_source(module_closure(module, self.get))

    # ------------------------------------------------------------------ writes

    def add(self, module: Module) -> Module:
        """Store a module (all or nothing); the same code again only merges its tests.

        A module with the name of an active one supersedes it (the caller has checked that
        it passes the old version's tests). Its dependencies become the active modules its
        source uses (`agentlib.code.dependencies`, the rule the agent extracts them with): a
        listed one that is not active or that the source does not use (it defines the name
        itself), or a cycle, is refused.
        """
        with self.write_transaction():
            existing = self.get_by_id(module.id)
            if existing is not None:
                merged = list(dict.fromkeys(existing.tests + module.tests))
                if merged != existing.tests:
                    existing.tests = merged
                    self._update([existing])
                return existing
            self._check_dependencies(module)
            previous = self.get(module.name)
            batch = [module]
            if previous is not None:
                previous.status = "superseded"
                module.version = previous.version + 1
                batch.insert(0, previous)
            module.created_at = module.created_at or time.time()
            self._upsert(batch)
            return module

    def add_many(self, modules: list[Module], vectors: list[list[float]] | None = None,
                 batch: int = 1000) -> int:
        """Store brand-new modules in batches (each batch all or nothing); return how many.

        For bulk loads: ids already stored are skipped; a name that is already active, or a
        listed dependency that is neither stored nor earlier in `modules` or that the source
        does not use, is refused before writing (dependencies follow the rule of `add`).
        """
        if vectors is not None and len(vectors) != len(modules):
            raise StoreError(f"{len(modules)} modules but {len(vectors)} vectors")
        with self.write_transaction():
            stored = set(fetch_all(self.modules, [])["ids"])
            active = {m.name for m in self.list()}
            keep = [i for i, m in enumerate(modules) if m.id not in stored]
            seen: set[str] = set()
            for i in keep:
                module = modules[i]
                if module.name in active or module.name in seen:
                    raise StoreError(f"{module.name} is already an active module; store new "
                                     "versions one at a time with add()")
                problems = dependency_problems(module.source, module.dependencies,
                                               active | seen, module.name)
                if problems:
                    raise StoreError(problems[0])
                module.dependencies = dependencies(module.source, active | seen)
                seen.add(module.name)
                module.created_at = module.created_at or time.time()
            for start in range(0, len(keep), batch):
                chunk = keep[start:start + batch]
                self._upsert([modules[i] for i in chunk],
                             None if vectors is None else [list(vectors[i]) for i in chunk])
            return len(keep)

    @contextmanager
    def write_transaction(self) -> Iterator[None]:
        """Hold the write lock; afterwards patch the in-memory search index, don't reload it.

        The index is kept only if nobody else wrote in between (the connection did not
        reopen); otherwise the next search reloads it.
        """
        with self.conn.thread_lock:  # re-entrant: only this thread can find _patches set
            if self._patches is not None:  # re-entered
                yield
                return
            with self._patching():
                yield

    @contextmanager
    def _patching(self) -> Iterator[None]:
        cache = self._exact if self._exact is not None and \
            self._exact.generation == self.conn.generation() else None
        reopens = self.conn.reopens
        self._patches = []
        try:
            with self.conn.write():
                yield
            patches = [([to_metadata(m) for m in mods], vectors)
                       for mods, vectors in self._patches]
            if cache is not None and self.conn.reopens == reopens and cache.apply(patches):
                cache.generation = self.conn.generation()
            else:
                self._exact = None
        finally:
            self._patches = None

    def _check_dependencies(self, module: Module) -> None:
        """Set the module's dependencies by the rule; refuse a wrong listed one or a cycle."""
        try:
            names = external_names(module.source)
        except SyntaxError:
            names = set()  # dependency_problems says so
        active = self.active_names((names | set(module.dependencies)) - {module.name})
        problems = dependency_problems(module.source, module.dependencies, active, module.name)
        if problems:
            raise StoreError("; ".join(problems))
        module.dependencies = dependencies(module.source, active)
        try:
            dependency_closure(module.dependencies, self.get, needed_by=module.name)
        except DependencyError as exc:
            raise StoreError(f"refusing to store {module.name}: {exc}") from exc

    def active_names(self, names: set[str]) -> set[str]:
        """Return those of `names` that name an active module (one query)."""
        if not names:
            return set()
        got = self.modules.get(where={"$and": [{"name": {"$in": sorted(names)}},
                                               {"status": "active"}]}, include=["metadatas"])
        return {meta["name"] for meta in got["metadatas"]}

    def update_counters(self, module_id: str, **increments: int) -> None:
        """Add to a module's counters (times_retrieved, _reused, _failed, and SHOWN_COUNTERS)."""
        allowed = {"times_retrieved", "times_reused", "times_failed", *SHOWN_COUNTERS}
        if set(increments) - allowed:
            raise StoreError(f"unknown counter(s) {sorted(set(increments) - allowed)}; "
                             f"use {sorted(allowed)}")
        with self.write_transaction():
            module = self.get_by_id(module_id)
            if module is None:
                return
            for name, value in increments.items():
                setattr(module, name, getattr(module, name) + value)
            self._update([module])

    def remove(self, name: str, force: bool = False) -> list[str]:
        """Mark the active module `name` pruned; return the active modules this breaks.

        Refused while other active modules depend on it, unless `force`. Nothing is deleted:
        the record stays, with status `pruned`, in `history`.
        """
        with self.write_transaction():
            module = self.get(name)
            if module is None:
                raise StoreError(f"no active module named {name!r}; see `agentlib lib list`")
            broken = self.dependents(name)
            if broken and not force:
                raise StoreError(f"{name} is needed by {', '.join(broken)}; removing it would "
                                 "break them. Use --force to remove it anyway")
            module.status = "pruned"
            self._update([module])
            return broken

    def revive(self, module: Module) -> None:
        """Make a pruned module active again (a task it solves came along).

        Refused when another version of its name is active or a dependency is not active.
        """
        with self.write_transaction():
            if self.get(module.name) is not None:
                raise StoreError(f"{module.name} has an active version; it cannot be revived")
            missing = [dep for dep in module.dependencies if self.get(dep) is None]
            if missing:
                raise StoreError(f"{module.name} needs {', '.join(missing)}, not active")
        self.set_statuses({module.id: "active"})

    def set_statuses(self, statuses: dict[str, str], delete: list[str] | None = None) -> None:
        """Set the status of records by id (one write), then delete the ids in `delete`.

        For what `add` and `remove` cannot express: making a superseded record active again
        (a refactor rolled back) or pruning a superseded record.
        """
        allowed = {"active", "superseded", "pruned"}
        if set(statuses.values()) - allowed:
            raise StoreError(f"unknown status in {sorted(set(statuses.values()))}; "
                             f"use {sorted(allowed)}")
        with self.conn.write():  # the generation bump makes every reader reload its index
            if statuses:
                ids = list(statuses)
                self.modules.update(ids=ids, metadatas=[{"status": statuses[i]} for i in ids])
            if delete:
                self.modules.delete(ids=list(delete))

    def reindex(self) -> int:
        """Re-embed every module and insight with this library's embedder; return the count.

        Each collection is rebuilt beside the old one and swapped in (`rebuild_collection`).
        """
        from agentlib.library.insights import insight_text

        texts = {MODULES: lambda meta: embedding_text(from_metadata(meta)), INSIGHTS: insight_text}
        with self.conn.write():
            total = sum(rebuild_collection(self.conn, name, self.collection_metadata, text_of,
                                           self.embedder.embed) for name, text_of in texts.items())
            self._exact = None
            return total

    def _recover_vectors(self) -> None:
        """After a killed write: rebuild the vector index if it cannot be read whole."""
        from agentlib.library.integrity import unreadable_vectors

        if unreadable_vectors(self):
            self.reindex()

    def _upsert(self, modules: list[Module], vectors: list[list[float]] | None = None) -> None:
        """Write whole records in one Chroma call; reuse stored vectors for known ids."""
        texts = [embedding_text(m) for m in modules]
        if vectors is None:
            stored = self._stored_vectors([m.id for m in modules], texts)
            missing = [i for i, m in enumerate(modules) if m.id not in stored]
            fresh = self.embedder.embed([texts[i] for i in missing]) if missing else []
            by_index = dict(zip(missing, fresh, strict=True))
            vectors = [stored[m.id] if m.id in stored else list(by_index[i])
                       for i, m in enumerate(modules)]
        self.modules.upsert(ids=[m.id for m in modules], embeddings=vectors, documents=texts,
                            metadatas=[to_metadata(m) for m in modules])
        if self._patches is not None:
            self._patches.append((modules, vectors))

    def _update(self, modules: list[Module]) -> None:
        """Rewrite the metadata of stored records (their vectors do not change)."""
        self.modules.update(ids=[m.id for m in modules],
                            metadatas=[to_metadata(m) for m in modules])
        if self._patches is not None:
            self._patches.append((modules, None))

    def _stored_vectors(self, ids: list[str], texts: list[str]) -> dict[str, list[float]]:
        """Stored vectors of `ids` that were embedded from the same text (others re-embed)."""
        got = self.modules.get(ids=ids, include=["embeddings", "documents"])
        if not got["ids"]:
            return {}
        wanted = dict(zip(ids, texts, strict=True))
        return {i: list(v) for i, v, d in zip(got["ids"], got["embeddings"], got["documents"],
                                              strict=True) if d == wanted.get(i)}

    def check(self, run_tests: bool = False) -> list[str]:
        """Return the library's integrity problems (empty when it is sound)."""
        from agentlib.library.integrity import check

        return check(self, run_tests=run_tests)

