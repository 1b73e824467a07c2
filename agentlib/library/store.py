"""The persistent library of modules, on Chroma (embedded on disk, or a Chroma server)."""

from __future__ import annotations

import atexit
import logging
import weakref
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from agentlib.code import module_closure, program_source
from agentlib.errors import StoreError
from agentlib.library import claims
from agentlib.library.chroma import INSIGHTS, MODULES, connect
from agentlib.library.counters import PendingCounters, checked
from agentlib.library.exact import EXACT_MAX_RECORDS, ExactIndex
from agentlib.library.records import fetch_all, from_metadata, to_metadata, where_clause
from agentlib.library.remote import Patience
from agentlib.library.writes import Check, Committed
from agentlib.model import Module

log = logging.getLogger("agentlib.library")
_OPEN: "weakref.WeakSet[Library]" = weakref.WeakSet()


def close_all() -> None:
    """Close every library this process opened, then any connection left (tests call it)."""
    from agentlib.library.chroma import close_all as close_connections

    for library in list(_OPEN):
        library.close()
    close_connections()


REINDEX_HINT = "run `agentlib lib reindex` to re-embed the library with the configured embedder"


class Library:
    """Modules and insights with their tests and embeddings; every write is all or nothing.

    Each write is one Chroma call (one SQLite transaction); embedded, it holds the library's
    write lock only for that call (verification and embedding happen before, see
    `agentlib.library.writes`), so a crash leaves a record stored whole or not at all and
    processes never interleave. `patience` says how long to wait for the lock and through a
    server's outage. `on_commit` are called under the write lock after each write (e.g. to
    write a read snapshot beside the library). Call `close` when done.
    """

    def __init__(self, location: str, embedder: Any, *, check_embedder: bool = True,
                 create: bool = True, patience: Patience | None = None) -> None:
        from agentlib.library.insights import InsightStore

        self.location = location
        self.embedder = embedder
        self.conn = connect(location, patience, create=create)
        self._closed = False
        self.pending = PendingCounters()
        self.on_commit: list[Callable[["Library"], None]] = []
        self.collection_metadata = {"embedder": embedder.name,
                                    "embedder_fingerprint": embedder.fingerprint,
                                    "dimension": int(getattr(embedder, "dimension", 0) or 0)}
        self._exact: ExactIndex | None = None
        self._patches: list[tuple[list[Module], list | None]] | None = None
        self._at_exit = False
        try:
            self.conn.refresh()
            self.conn.recovery = self._recover_vectors
            for collection in (self.modules, self.conn.collection(
                    INSIGHTS, self.collection_metadata)) if check_embedder else ():
                self._check_embedder(collection)
            self.insights = InsightStore(self)
        except BaseException:
            self.conn.release()
            raise
        try:
            self.conn.recover_if_interrupted()
        except StoreError as exc:  # e.g. a full disk: reading goes on, the next write repairs
            log.warning("a write to %s was interrupted and cannot be repaired now: %s",
                        self.location, exc)
        _OPEN.add(self)

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

    def close(self) -> None:
        """Write pending counters and let go of the Chroma client (files, sockets)."""
        if self._closed:
            return
        try:
            self.flush_counters()
        finally:
            self._closed = True
            _OPEN.discard(self)
            if self._at_exit:
                atexit.unregister(self._flush_at_exit)
            self.conn.release()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _flush_at_exit(self) -> None:
        try:
            self.flush_counters()
        except Exception as exc:  # noqa: BLE001 - at exit, a counter is not worth a traceback
            log.warning(
                "usage counters of %s not written: %s", self.location, exc)

    # ------------------------------------------------------------------ reads

    def stored(self, module_id: str) -> Module | None:
        """The record of `module_id` as stored (without this process's pending counters)."""
        got = self.modules.get(ids=[module_id], include=["metadatas"])
        return from_metadata(got["metadatas"][0]) if got["ids"] else None

    def _record(self, meta: dict[str, Any]) -> Module:
        return self.pending.view("modules", from_metadata(meta))

    def get_by_id(self, module_id: str) -> Module | None:
        module = self.stored(module_id)
        return None if module is None else self.pending.view("modules", module)

    def get(self, name: str) -> Module | None:
        """Return the active module called `name`, if any (the newest, should a server
        briefly show two)."""
        got = self.modules.get(where={"$and": [{"name": name}, {"status": "active"}]},
                               include=["metadatas"])
        found = [self._record(m) for m in got["metadatas"]]
        return max(found, key=lambda m: m.version) if found else None

    def head(self, name: str) -> "claims.Head":
        """Where `name` stands: its latest claimed slot (servers) and its active module."""
        if self.conn.server:
            return claims.head(self, name)
        return claims.Head(0, self.get(name))

    def list(self, status: str | None = "active") -> list[Module]:
        """Return modules with `status` (None: every status), sorted by name then version."""
        where = {"status": status} if status else None
        got = fetch_all(self.modules, ["metadatas"], where)
        return sorted((self._record(m) for m in got["metadatas"]),
                      key=lambda m: (m.name, m.version))

    def history(self, name: str) -> list[Module]:
        """Return every version of `name` (active, superseded or pruned), oldest first."""
        got = self.modules.get(where={"name": name}, include=["metadatas"])
        return sorted((self._record(m) for m in got["metadatas"]),
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
            return [(self._record(m), d) for m, d in exact.search(vector, k, where)]
        got = self.modules.query(query_embeddings=[vector], n_results=k, where=where_clause(where),
                                 include=["metadatas", "distances"])
        return [(self._record(m), d) for m, d in zip(got["metadatas"][0], got["distances"][0],
                                                     strict=True)]

    def _exact_index(self) -> ExactIndex | None:
        """The in-memory exact index while the library is small (embedded mode only)."""
        if self.conn.server:
            return None
        generation = self.conn.generation()
        if self._exact is not None and self._exact.generation == generation and \
                (generation or self.conn.read_only):
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
        got = self.modules.get(where={"$and": [{"name": {"$in": sorted(names)}},
                                               {"status": "active"}]}, include=["metadatas"])
        return [self._record(meta) for meta in got["metadatas"]]

    # ------------------------------------------------------------------ writes

    def commit(self, module: Module, check: Check | None = None, *,
               verified_program: str | None = None, verified_against: str = "",
               rename: bool = True) -> Committed:
        """Store `module` as the active version of its name: verified outside the write lock,
        re-checked at commit (see `agentlib.library.writes.commit`)."""
        from agentlib.library.writes import commit

        return commit(self, module, check, verified_program=verified_program,
                      verified_against=verified_against, rename=rename)

    def add(self, module: Module, check: Check | None = None) -> Module:
        """Store a module (all or nothing); the same code again only merges its tests.

        A module with the name of an active one supersedes it if it passes that version's
        tests (`check`, default: in the sandbox), else StoreError. Its dependencies become
        the active modules its source uses (`agentlib.code.dependencies`): a listed one that
        is not active or that the source does not use, or a cycle, is refused. The caller
        vouches for the module's own tests.
        """
        done = self.commit(module, check, rename=False)
        if done.module is None:
            raise StoreError(f"refusing to store {module.name}: {done.detail}")
        return done.module

    def add_many(self, modules: list[Module], vectors: list[list[float]] | None = None,
                 batch: int = 1000) -> int:
        """Store brand-new modules in batches (each batch all or nothing); return how many.

        For bulk loads: ids already stored are skipped; a name that is already active, or a
        listed dependency that is neither stored nor earlier in `modules` or that the source
        does not use, is refused before writing (dependencies follow the rule of `add`).
        """
        from agentlib.library.bulk import add_many

        return add_many(self, modules, vectors, batch)

    @contextmanager
    def write_transaction(self) -> Iterator[None]:
        """Hold the write lock; afterwards patch the in-memory search index, don't reload it.

        The index is kept only if nobody else wrote in between (the connection did not
        reopen); otherwise the next search reloads it. The `on_commit` hooks run at the end,
        still under the lock.
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
                wrote = bool(self._patches)
                for hook in self.on_commit if wrote else ():
                    hook(self)
            patches = [([to_metadata(m) for m in mods], vectors)
                       for mods, vectors in self._patches]
            if cache is not None and self.conn.reopens == reopens and cache.apply(patches):
                cache.generation = self.conn.generation()
            else:
                self._exact = None
        finally:
            self._patches = None

    def patched(self, modules: list[Module], vectors: list | None) -> None:
        """Note records just written, for the in-memory index and the `on_commit` hooks."""
        if self._patches is not None:
            self._patches.append((modules, vectors))
        else:
            self._exact = None

    def update_counters(self, module_id: str, **increments: int) -> None:
        """Add to a module's counters (its int fields: times_retrieved, times_reused, …).

        Kept in memory (reads of this process show them) and written by `flush_counters`,
        which `Agent.solve` calls once per solve and `close` (or the process's exit) calls.
        """
        checked(Module, increments, "module")
        self.pending.count("modules", module_id, increments)
        self._flush_later()

    def _flush_later(self) -> None:
        if not self._at_exit:
            atexit.register(self._flush_at_exit)
            self._at_exit = True

    def flush_counters(self) -> int:
        """Write every pending counter (modules and insights) in one write."""
        from agentlib.library.counters import flush

        if self._closed:
            return 0
        return flush(self)

    def remove(self, name: str, force: bool = False) -> list[str]:
        """Mark the active module `name` pruned; return the active modules this breaks.

        Refused while other active modules depend on it, unless `force`. Nothing is deleted:
        the record stays, with status `pruned`, in `history`.
        """
        from agentlib.library.writes import remove

        return remove(self, name, force)

    def revive(self, module: Module) -> None:
        """Make a pruned module active again (a task it solves came along).

        Refused when another version of its name is active or a dependency is not active.
        """
        from agentlib.library.writes import revive

        revive(self, module)

    def set_statuses(self, statuses: dict[str, str], delete: list[str] | None = None) -> None:
        """Set the status of records by id (one write), then delete the ids in `delete`.

        For what `add` and `remove` cannot express: making a superseded record active again
        (a refactor rolled back) or pruning a superseded record.
        """
        from agentlib.library.writes import set_statuses

        set_statuses(self, statuses, delete or [])

    def reindex(self) -> int:
        """Re-embed every module and insight with this library's embedder; return the count.

        Embedding runs without the write lock; each collection is rebuilt beside the old one
        and swapped in under it (`agentlib.library.reindex`).
        """
        from agentlib.library.reindex import reindex

        return reindex(self)

    def _recover_vectors(self) -> None:
        """After a killed write: rebuild the vector index if it cannot be read whole."""
        from agentlib.library.integrity import unreadable_vectors

        if unreadable_vectors(self):
            self.reindex()

    def check(self, run_tests: bool = False, repair: bool = False) -> list[str]:
        """Return the library's integrity problems (empty when it is sound).

        With `repair`, first remove what killed processes left behind (partial reindex
        collections, unfinished server claims), then check.
        """
        from agentlib.library.integrity import check

        return check(self, run_tests=run_tests, repair=repair)
