"""The Chroma connection a library runs on: client, collections, write lock and reopening.

Chroma's embedded client keeps its HNSW index in memory and persists it now and then; two
processes that write the same directory each persist their own view and corrupt the index
(measured: 2 × 1,500 concurrent upserts left `get` failing with "Error finding id"). So every
write in embedded mode holds an exclusive file lock (`locking.OwnedLock`, which says who holds
it), held only for the write itself: verification and embedding happen before it is taken
(`agentlib.library.writes`). A process whose last write is not the library's latest (a
generation file says so) reopens its client before writing. A marker file exists while a
write is in progress; finding it while nobody holds the lock means a writer was killed
mid-write, and the next writer (or opener) verifies the vector index and rebuilds it if
Chroma's HNSW files were left torn (SQLite, which holds every record and its embedded text,
is transactional).

A library that cannot be written (a read-only directory, or a full disk Chroma cannot even
open on) is opened from a private copy: every read works, every write is refused with a
`StoreError` that says why. A server location (http://HOST:PORT) has no file lock: the server
applies each call atomically, and `agentlib.library.claims` builds on what it guarantees.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from agentlib.errors import StoreError
from agentlib.library.location import (
    GENERATION_FILE,
    WRITING_MARKER,
    check_directory,
    check_location,
    generation_token,
    low_space,
)
from agentlib.library.locking import LockHeld, OwnedLock
from agentlib.library.remote import Patience

MODULES = "modules"
INSIGHTS = "insights"
REINDEX_SUFFIX = "-reindex"

# Chosen with `agentlib bench store` (see agentlib/bench/store.py): Chroma's defaults
# (M=16, ef=100) gave recall@5 of 0.56-0.82 at 10k random vectors; these give >= 0.99.
HNSW = {"space": "cosine", "max_neighbors": 32, "ef_construction": 200, "ef_search": 400}

_HANDLES: dict[str, "Connection"] = {}
_HANDLES_LOCK = threading.Lock()


class LibraryLocked(LockHeld, StoreError):
    """Another process held the library's write lock for longer than `lock_timeout_s`."""


def is_server(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def connect(location: str, patience: Patience | None = None, *,
            create: bool = True) -> "Connection":
    """Return the process-wide connection for `location` (one per path or server), counting
    one more user of it (`Connection.release` counts one fewer).

    `create=False` refuses a directory that holds no library yet instead of making one.
    """
    check_location(location)
    key = location if is_server(location) else str(Path(location).expanduser().resolve())
    with _HANDLES_LOCK:
        if key not in _HANDLES:
            if not is_server(location):
                check_directory(Path(key), location, create)
            _HANDLES[key] = Connection(location, key, patience or Patience())
        elif patience is not None:
            _HANDLES[key].patience = patience
        _HANDLES[key].users += 1
        return _HANDLES[key]


def close_all() -> None:
    """Close every connection this process opened (tests call it after each test)."""
    with _HANDLES_LOCK:
        connections = list(_HANDLES.values())
        _HANDLES.clear()
    for conn in connections:
        conn.close()


class Connection:
    """A Chroma client plus the lock and generation file that keep processes consistent."""

    def __init__(self, location: str, key: str, patience: Patience) -> None:
        self.location = location
        self.key = key
        self.patience = patience
        self.users = 0
        self.server = is_server(location)
        self.path = None if self.server else Path(key)
        self.read_only = ""
        """Why this library cannot be written ('' when it can)."""
        self._copy: Path | None = None
        if self.path is not None:
            # another process may create it at the same moment
            self.path.mkdir(parents=True, exist_ok=True)
        self.thread_lock = threading.RLock()
        self.lock = None if self.path is None else OwnedLock(
            self.path / ".agentlib.lock", f"the write lock of the library at {self.path}",
            error=LibraryLocked, setting="lock_timeout_s, env AGENTLIB_LOCK_TIMEOUT_S")
        self._depth = 0
        self.suspect = False
        """A Chroma write failed under this write: keep the marker, so the next writer or
        opener checks the vector index (set by `persist.guarded`)."""
        self.seen_generation = self.generation()
        self.client = self._open_client()
        self._collections: dict[str, Any] = {}
        self.reopens = 0
        """How often this process reopened the client (each drops every cached view)."""
        self.vectors_verified = ""
        """The generation at which every vector was last read back whole."""
        self.recovery: Callable[[], None] | None = None
        """Called under the lock when a writer was killed mid-write (set by the Library)."""
        self.after_commit: Callable[[], None] | None = None
        """Called under the lock after each outermost write that succeeded, once the
        generation changed (set by the Library: it writes the read snapshot)."""

    # ------------------------------------------------------------------ client

    def _open_client(self):
        if self.server:
            from agentlib.library.remote import open_http_client

            return open_http_client(self.location, self.patience)
        assert self.path is not None
        if not self.read_only and not os.access(self.path, os.W_OK):
            self.read_only = "the directory is read-only"
        if self.read_only:
            return self._open_copy()
        if (self.path / "chroma.sqlite3").exists():
            try:
                return self._persistent(self.path)
            except Exception as exc:  # noqa: BLE001 - reported unless the disk is full
                if not low_space(self.path):
                    raise StoreError(f"Chroma cannot open the library at {self.path}: "
                                     f"{type(exc).__name__}: {exc}") from exc
                self.read_only = "the disk is full"
                return self._open_copy()
        # a new library: Chroma creates its tables on first open, and two processes doing
        # that at once collide ("table collections already exists"); one at a time
        self._acquire()
        try:
            return self._persistent(self.path)
        finally:
            self.lock.release()

    def _persistent(self, path: Path):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        return chromadb.PersistentClient(path=str(path),
                                         settings=ChromaSettings(anonymized_telemetry=False))

    def _open_copy(self):
        """Open a private copy of a library that cannot be written (reads only)."""
        assert self.path is not None
        if self._copy is None:
            self._copy = Path(tempfile.mkdtemp(prefix="agentlib-readonly-")) / "library"
            shutil.copytree(self.path, self._copy, ignore=shutil.ignore_patterns(
                ".agentlib.lock", "*.tmp"))
        return self._persistent(self._copy)

    @property
    def data_path(self) -> Path | None:
        """Where Chroma's files are read from: the library, or its private read-only copy."""
        return self._copy or self.path

    def refuse_writes(self) -> None:
        """Raise StoreError when this library cannot be written."""
        if self.read_only:
            raise StoreError(f"the library at {self.location} cannot be written: "
                             f"{self.read_only}. It is open for reading only (list, show, "
                             "search, check and export work); make it writable, or free "
                             "space, to store into it")

    def reopen(self) -> None:
        """Drop this process's Chroma state for the path and load it afresh from disk."""
        if self.server or self.read_only:
            return
        self._close_client()
        self.client = self._open_client()
        self.reopens += 1
        self._collections.clear()
        self.seen_generation = self.generation()

    def _close_client(self) -> None:
        client, self.client = self.client, None
        self._collections.clear()
        if client is None:
            return
        inner = getattr(client, "_client", client)  # a server client is wrapped for retries
        inner.close()

    def release(self) -> None:
        """One user fewer; the last one closes the connection."""
        with _HANDLES_LOCK:
            self.users -= 1
            last = self.users <= 0
            if last and _HANDLES.get(self.key) is self:
                del _HANDLES[self.key]
        if last:
            self.close()

    def close(self) -> None:
        """Close the Chroma client (its files and sockets) and drop a read-only copy."""
        with self.thread_lock:
            self._close_client()
            if self._copy is not None:
                shutil.rmtree(self._copy.parent, ignore_errors=True)
                self._copy = None

    def forget(self, name: str) -> None:
        """Drop the cached handle of a collection (after it was deleted or renamed)."""
        self._collections.pop(name, None)

    def collection(self, name: str, metadata: dict[str, Any] | None = None):
        """Return the named collection, created with `metadata` and our HNSW settings if new.

        A process whose view is stale (another process wrote) reopens first: Chroma's
        in-memory index of the old view fails reads with "Error finding id".
        """
        if self.client is None:
            raise StoreError(f"the library at {self.location} was closed")
        if not self._depth and self.stale():
            self.refresh()
        if name not in self._collections:
            self._collections[name] = self._get_or_create(name, metadata or {})
        return self._collections[name]

    def _get_or_create(self, name: str, metadata: dict[str, Any]):
        from chromadb.errors import NotFoundError

        try:
            return self.client.get_collection(name, embedding_function=None)
        except (NotFoundError, ValueError):
            pass
        if self.read_only:
            raise StoreError(f"the library at {self.location} has no {name} collection and "
                             f"cannot be written ({self.read_only})")
        with self.write(bump=False):  # two processes creating it at once would collide
            try:
                return self.client.get_collection(name, embedding_function=None)
            except (NotFoundError, ValueError):
                pass
            pending = self.pending_reindex(name)
            if pending is not None:  # a reindex was killed after dropping the old collection
                pending.modify(name=name)
                return self.client.get_collection(name, embedding_function=None)
            return self.client.get_or_create_collection(
                name, metadata=metadata or None, configuration={"hnsw": dict(HNSW)},
                embedding_function=None)

    def pending_reindex(self, name: str):
        from chromadb.errors import NotFoundError

        try:
            return self.client.get_collection(name + REINDEX_SUFFIX, embedding_function=None)
        except (NotFoundError, ValueError):
            return None

    # ------------------------------------------------------------------ consistency

    def generation(self) -> str:
        """A token that changes with every write ('' for a server or a new library)."""
        return "" if self.path is None else generation_token(self.path)

    def _bump(self) -> None:
        assert self.path is not None
        target = self.path / GENERATION_FILE
        tmp = self.path / f"{GENERATION_FILE}.{os.getpid()}.tmp"
        before = self.generation()
        try:
            tmp.write_text(uuid.uuid4().hex)
            os.replace(tmp, target)
        except OSError:  # no space for a new file: a new mtime needs none
            tmp.unlink(missing_ok=True)
            now = time.time_ns()
            try:
                os.utime(target, ns=(now, now))
            except FileNotFoundError:
                target.touch()
            if self.generation() == before:
                os.utime(target, ns=(now + 1000, now + 1000))
        self.seen_generation = self.generation()

    def stale(self) -> bool:
        """True when another process wrote since this one last opened or wrote."""
        return not self.read_only and self.generation() != self.seen_generation

    @property
    def _dirty_marker(self) -> Path:
        assert self.path is not None
        return self.path / WRITING_MARKER

    def interrupted(self) -> bool:
        """True when a writer died mid-write: its marker is there and nobody holds the lock."""
        if self.server or self.read_only or not self._dirty_marker.exists():
            return False
        assert self.lock is not None
        return self.lock.free() and self._dirty_marker.exists()

    def recover_if_interrupted(self) -> bool:
        """Repair the library if a writer died mid-write; return True when one did."""
        if not self.interrupted():
            return False
        with self.write():  # write() runs the recovery when it finds the marker
            pass
        self.vectors_verified = self.generation()
        return True

    def _recover(self) -> None:
        if self._dirty_marker.exists() and self.recovery is not None:
            self._depth += 1
            try:
                self.recovery()
            finally:
                self._depth -= 1

    def _acquire(self) -> None:
        assert self.lock is not None
        self.lock.acquire(self.patience.lock_timeout_s)

    def refresh(self) -> None:
        """Reopen (under the write lock) if another process wrote since this one looked."""
        if self.server or not self.stale():
            return
        with self.thread_lock:
            if self._depth:
                return
            self._acquire()
            try:
                if self.stale():
                    self.reopen()
            finally:
                self.lock.release()

    @contextmanager
    def write(self, bump: bool = True, snapshot: bool = True) -> Iterator[None]:
        """Hold the library's exclusive write lock (re-entrant), fresh from disk inside it.

        Refused (StoreError) on a library that cannot be written; a marker that cannot be
        created (a full disk) refuses the write before anything is changed. `snapshot=False`:
        no `after_commit` (a probe of vectors that may be torn must not read them here).
        """
        with self.thread_lock:
            if self.server or self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.refuse_writes()
            self._acquire()
            try:
                if self.stale():
                    self.reopen()
                self._recover()
                try:
                    self._dirty_marker.touch()
                except OSError as exc:
                    raise StoreError(f"cannot write to the library at {self.location}: {exc}; "
                                     "nothing was changed") from exc
                self._depth += 1
                done = False
                try:
                    yield
                    done = bump and snapshot
                except Exception:  # a refusal, or a Chroma error whose outcome was read back
                    done = bump and snapshot
                    raise
                finally:
                    self._depth -= 1
                    if bump:
                        self._bump()
                    if done and not self.suspect and self.after_commit is not None:
                        self._depth += 1  # its reads go straight to Chroma, under the lock
                        try:
                            self.after_commit()
                        finally:
                            self._depth -= 1
                    if not self.suspect:
                        self._dirty_marker.unlink(missing_ok=True)
                    self.suspect = False
            finally:
                self.lock.release()
