"""The persistent library of modules, on Chroma (embedded on disk, or a Chroma server)."""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from agentlib.errors import StoreError
from agentlib.library.chroma import INSIGHTS, MODULES, connect, is_server
from agentlib.library.counters import PendingCounters, checked
from agentlib.library.exact import ExactIndex
from agentlib.library.location import check_directory, check_location
from agentlib.library.reads import LibraryReads
from agentlib.library.records import to_metadata
from agentlib.library.remote import Patience
from agentlib.library.snapshot import SnapshotReader
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


class Library(LibraryReads):
    """Modules and insights with their tests and embeddings; every write is all or nothing.

    Each write is one Chroma call (one SQLite transaction); embedded, it holds the library's
    write lock only for that call (verification and embedding happen before, see
    `agentlib.library.writes`), so a crash leaves a record stored whole or not at all and
    processes never interleave. Embedded, each write also writes a read snapshot beside the
    library, and reads come from it while it is current (`agentlib.library.snapshot`):
    Chroma is opened only when it is not, or to write. `patience` says how long to wait for
    the lock and through a server's outage. `on_commit` are called under the write lock
    after each write. Call `close` when done.
    """

    def __init__(self, location: str, embedder: Any, *, check_embedder: bool = True,
                 create: bool = True, patience: Patience | None = None) -> None:
        from agentlib.library.insights import InsightStore

        check_location(location)
        self.location = location
        self.embedder = embedder
        self.server = is_server(location)
        self.path: Path | None = None if self.server else Path(location).expanduser().resolve()
        """The library's directory (None: a Chroma server)."""
        if self.path is not None:
            check_directory(self.path, location, create)
        self._open_with = (patience, create, check_embedder)
        self._conn: Any = None
        self._open_lock = threading.Lock()
        self._closed = False
        self.pending = PendingCounters()
        self.on_commit: list[Callable[["Library"], None]] = []
        self.collection_metadata = {"embedder": embedder.name,
                                    "embedder_fingerprint": embedder.fingerprint,
                                    "dimension": int(getattr(embedder, "dimension", 0) or 0)}
        self._exact: ExactIndex | None = None
        self._patches: list[tuple[list[Module], list | None]] | None = None
        self._patch_base: tuple[ExactIndex | None, int] = (None, 0)
        self._at_exit = False
        self.snapshots = SnapshotReader(self.path) if self.path is not None and check_embedder \
            else None
        self.insights = InsightStore(self)
        if self.snapshot() is None or not (self.path / "chroma.sqlite3").is_file():
            self.conn  # noqa: B018 - nothing to read without Chroma: open it now, errors and all
        _OPEN.add(self)

    @property
    def conn(self):
        """The Chroma connection (`agentlib.library.chroma.Connection`), opened on first use."""
        if self._conn is None:
            with self._open_lock:
                if self._conn is None:
                    self._open()
        return self._conn

    def _open(self) -> None:
        if self._closed:
            raise StoreError(f"the library at {self.location} was closed")
        patience, create, check_embedder = self._open_with
        conn = connect(self.location, patience, create=create)
        try:
            conn.refresh()
            conn.recovery = self._recover_vectors
            for name in (MODULES, INSIGHTS) if check_embedder else ():
                self._check_embedder(conn.collection(name, self.collection_metadata))
        except BaseException:
            conn.release()
            raise
        conn.after_commit = self._committed
        self._conn = conn
        try:
            conn.recover_if_interrupted()
        except StoreError as exc:  # e.g. a full disk: reading goes on, the next write repairs
            log.warning("a write to %s was interrupted and cannot be repaired now: %s",
                        self.location, exc)

    def _check_embedder(self, collection) -> None:
        stored = collection.metadata or {}
        if stored.get("embedder_fingerprint") not in (None, self.embedder.fingerprint):
            raise StoreError(
                f"the {collection.name} in {self.location} were embedded with "
                f"{stored.get('embedder')} ({stored.get('embedder_fingerprint')}), not "
                f"{self.embedder.name} ({self.embedder.fingerprint}); vectors of two models "
                f"cannot be compared: {REINDEX_HINT}")

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
            if self._conn is not None:
                if self._conn.after_commit == self._committed:  # to another user, if any
                    self._conn.after_commit = next((other._committed for other in _OPEN
                                                    if other._conn is self._conn), None)
                self._conn.release()

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
        conn = self.conn
        cache = self._exact if self._exact is not None and \
            self._exact.generation == conn.generation() else None
        self._patch_base = (cache, conn.reopens)
        self._patches = []
        hook, conn.after_commit = conn.after_commit, self._committed
        try:
            with conn.write():
                yield
                wrote = bool(self._patches)
                for hook_of_commit in self.on_commit if wrote else ():
                    hook_of_commit(self)
        finally:
            conn.after_commit = hook
            self._patches, self._patch_base = None, (None, 0)

    def _committed(self) -> None:
        """After each write, under the lock, once the generation moved: patch the in-memory
        index with what this write changed (or drop it), then write the read snapshot."""
        from agentlib.library.snapshot import write_snapshot

        generation = self.conn.generation()
        cache, reopens = self._patch_base
        patches = [([to_metadata(m) for m in mods], vectors)
                   for mods, vectors in self._patches or []]
        if self._patches is not None and cache is not None and \
                self.conn.reopens == reopens and cache.apply(patches):
            cache.generation = generation
            self._exact = cache
        else:
            self._exact = None
        self._patch_base = (None, 0)
        try:
            written = write_snapshot(self, self._exact)
        except Exception as exc:  # noqa: BLE001 - the write stands; a stale snapshot is unread
            log.warning("the read snapshot of %s was not written (reads open Chroma until "
                        "the next write): %s: %s", self.location, type(exc).__name__, exc)
            written = None
        if written is not None:  # the records as Chroma returns them, to their last digit
            self._exact = written.collections[MODULES].index(generation)
        self.snapshot_written(written)

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
