"""The persistent library of modules, on Chroma (embedded on disk, or a Chroma server)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

from agentlib.code import (
    DependencyError,
    dependencies,
    dependency_closure,
    dependency_problems,
    external_names,
)
from agentlib.errors import StoreError
from agentlib.library.chroma import (
    INSIGHTS,
    MODULES,
    connect,
    fetch_all,
    library_path,
    rebuild_collection,
)
from agentlib.library.counters import FOLD_BYTES, MODULE_COUNTERS, JournalReader
from agentlib.library.exact import EXACT_MAX_RECORDS, ExactIndex
from agentlib.library.reads import LibraryReads
from agentlib.library.records import from_metadata, to_metadata
from agentlib.library.snapshot import (
    Records,
    Snapshot,
    SnapshotReader,
    chroma_records,
    save_after_commit,
)
from agentlib.library.text import embedding_text
from agentlib.model import Module

REINDEX_HINT = "run `agentlib lib reindex` to re-embed the library with the configured embedder"


class Library(LibraryReads):
    """Modules and insights with their tests and embeddings; every write is all or nothing.

    Each write is one Chroma upsert (one SQLite transaction) under the library's write lock,
    so a crash leaves a record stored whole or not at all, and processes never interleave.
    Reads come from the read snapshot while it is current (`agentlib.library.snapshot`);
    Chroma is opened only when one is not, or to write. Usage counters go to a journal
    (`agentlib.library.counters`).
    """

    def __init__(self, location: str, embedder: Any, *, check_embedder: bool = True,
                 create: bool = True) -> None:
        from agentlib.library.insights import InsightStore

        self.location = location
        self.embedder = embedder
        self.collection_metadata = {"embedder": embedder.name,
                                    "embedder_fingerprint": embedder.fingerprint,
                                    "dimension": int(getattr(embedder, "dimension", 0) or 0)}
        self.path = None if "://" in location else library_path(location)
        """The library's directory (None: a Chroma server)."""
        self._check_embedder_at_open = check_embedder
        self._create = create
        self._conn = None
        self._open_lock = threading.Lock()
        self._snapshots = SnapshotReader(self.path) if self.path and check_embedder else None
        self._journal = JournalReader(self.path) if self.path else None
        self._exact: ExactIndex | None = None
        self._patches: list[tuple[list[Module], list[list[float]] | None]] | None = None
        self._patch_base: tuple[ExactIndex | None, int] = (None, 0)
        self.insights = InsightStore(self)
        if self._snapshot() is None or not (self.path / "chroma.sqlite3").is_file():
            self.conn  # noqa: B018 - nothing to read without Chroma: open it now, errors and all

    @property
    def conn(self):
        """The Chroma connection (`agentlib.library.chroma.Connection`), opened on first use."""
        if self._conn is None:
            with self._open_lock:
                if self._conn is None:
                    self._open()
        return self._conn

    def _open(self) -> None:
        conn = connect(self.location, create=self._create)
        conn.refresh()
        if self._check_embedder_at_open:
            for name in (MODULES, INSIGHTS):
                self._check_embedder(conn.collection(name, self.collection_metadata))
        conn.recovery = self._recover_vectors
        conn.before_write = self._fold_counters
        conn.after_commit = self._committed
        self._conn = conn
        conn.recover_if_interrupted()

    def _check_embedder(self, collection) -> None:
        stored = collection.metadata or {}
        if stored.get("embedder_fingerprint") not in (None, self.embedder.fingerprint):
            raise StoreError(
                f"the {collection.name} in {self.location} were embedded with "
                f"{stored.get('embedder')} ({stored.get('embedder_fingerprint')}), not "
                f"{self.embedder.name} ({self.embedder.fingerprint}); vectors of two models "
                f"cannot be compared: {REINDEX_HINT}")

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
        self._patch_base = (cache, self.conn.reopens)
        self._patches = []
        hooks = self.conn.before_write, self.conn.after_commit
        self.conn.before_write, self.conn.after_commit = self._fold_counters, self._committed
        try:
            with self.conn.write():
                yield
        finally:
            self.conn.before_write, self.conn.after_commit = hooks
            self._patches, self._patch_base = None, (None, 0)

    def _committed(self) -> None:
        """After each write, under the lock, once the generation changed: patch the in-memory
        index with what this write changed (or drop it), then write the read snapshot."""
        generation = self.conn.generation()
        cache, reopens = self._patch_base
        patches = [([to_metadata(m) for m in mods], vectors)
                   for mods, vectors in self._patches or []]
        if self._patches is not None and cache is not None and \
                self.conn.reopens == reopens and cache.apply(patches):
            cache.generation = generation
        elif self._exact is not None and self._exact.generation != generation:
            self._exact = None
        self._patch_base = (None, 0)
        modules = self._exact
        if modules is not None and modules.generation == generation:
            records = Records(dict(self.modules.metadata or {}), list(modules.ids),
                              list(modules.metadatas), modules.matrix)
        else:
            records = chroma_records(self.conn, MODULES, self.collection_metadata)
            if len(records.ids) <= EXACT_MAX_RECORDS:
                self._exact = records.index(generation)
        written = Snapshot(generation, {
            MODULES: records, INSIGHTS: chroma_records(self.conn, INSIGHTS,
                                                       self.collection_metadata)})
        if self.path is not None and save_after_commit(self.path, written) and \
                self._snapshots is not None:
            self._snapshots.prime(written)

    def _fold_counters(self) -> None:
        """At the start of each write, under the lock: fold the counter journal into Chroma,
        and into the in-memory index this write will patch."""
        from agentlib.library.counters import fold

        if self.path is None:
            return
        folded = fold(self.path, {name: self.conn.collection(name, self.collection_metadata)
                                  for name in (MODULES, INSIGHTS)}).get(MODULES)
        cache = self._patch_base[0] if self._patches is not None else None
        if folded and cache is not None:
            rows = {record_id: row for row, record_id in enumerate(cache.ids)}
            if not cache.apply([([{**cache.metadatas[rows[i]], **fields} for i, fields in
                                  folded.items() if i in rows], None)]):
                self._patch_base = (None, 0)

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

    def update_counters(self, module_id: str, **increments: int) -> None:
        """Add to a module's counters (times_retrieved, times_reused, times_failed)."""
        if set(increments) - set(MODULE_COUNTERS):
            raise StoreError(f"unknown counter(s) {sorted(set(increments) - set(MODULE_COUNTERS))}"
                             f"; use {sorted(MODULE_COUNTERS)}")
        if self.count_usage(MODULES, module_id, increments):
            return
        with self.write_transaction():
            module = self.get_by_id(module_id)
            if module is None:
                return
            for name, value in increments.items():
                setattr(module, name, getattr(module, name) + value)
            self._update([module])

    def count_usage(self, name: str, record_id: str, increments: dict[str, int],
                    task: str | None = None) -> bool:
        """Journal a counter update of a record of `name` (`agentlib.library.counters`);
        False for a server library, whose counters are written at once instead."""
        from agentlib.library.counters import append

        if self.path is None:
            return False
        if append(self.path, name, record_id, increments, task) > FOLD_BYTES:
            with self.conn.write():  # a write folds the journal first
                pass
        return True

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

    def rewrite_snapshot(self) -> None:
        """Write the read snapshot afresh from Chroma (a write: the counter journal is folded)."""
        self._exact = None
        with self.conn.write():
            pass

    def check(self, run_tests: bool = False) -> list[str]:
        """Return the library's integrity problems (empty when it is sound)."""
        from agentlib.library.integrity import check

        return check(self, run_tests=run_tests)

