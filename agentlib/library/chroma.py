"""The Chroma connection a library runs on: client, collections, write lock and reopening.

Chroma's embedded client keeps its HNSW index in memory and persists it now and then; two
processes that write the same directory each persist their own view and corrupt the index
(measured: 2 × 1,500 concurrent upserts left `get` failing with "Error finding id"). So every
write in embedded mode holds an exclusive file lock, and a process whose last write is not the
library's latest (a generation file says so) reopens its client before writing. A marker file
exists while a write is in progress; finding it means a writer was killed mid-write, and the
next writer (or opener) verifies the vector index and rebuilds it if Chroma's HNSW files were
left torn (SQLite, which holds every record and its embedded text, is transactional).
A server location (http://HOST:PORT) needs none of this: the server serialises writes itself.
"""

from __future__ import annotations

import os
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlparse

from agentlib.errors import StoreError, UsageError

MODULES = "modules"
INSIGHTS = "insights"
GENERATION_FILE = ".agentlib.generation"
WRITING_MARKER = ".agentlib.writing"
REINDEX_SUFFIX = "-reindex"
SERVER_PROBE_S = 5.0
"""How long a Chroma server may take to answer its heartbeat when a library is opened."""

# Chosen with `agentlib bench store` (see agentlib/bench/store.py): Chroma's defaults
# (M=16, ef=100) gave recall@5 of 0.56-0.82 at 10k random vectors; these give >= 0.99.
HNSW = {"space": "cosine", "max_neighbors": 32, "ef_construction": 200, "ef_search": 400}

_HANDLES: dict[str, "Connection"] = {}
_HANDLES_LOCK = threading.Lock()


def fetch_all(collection, include: list[str], where: dict[str, Any] | None = None,
              page: int = 5000) -> dict[str, list]:
    """`collection.get` in pages (one big get fails past SQLite's variable limit)."""
    out: dict[str, list] = {"ids": [], **{key: [] for key in include}}
    offset = 0
    while True:
        got = collection.get(where=where, include=include, limit=page, offset=offset)
        out["ids"] += got["ids"]
        for key in include:
            values = got[key]
            out[key] += list(values) if values is not None else [None] * len(got["ids"])
        if len(got["ids"]) < page:
            return out
        offset += page


def is_server(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def library_path(location: str) -> Path:
    """The resolved directory of an embedded library (the key of its connection)."""
    return Path(location).expanduser().resolve()


def generation_token(path: Path) -> str:
    """Return a token that changes with every write of the library at `path` ('' if none yet).

    Every write replaces the generation file, so its inode and mtime identify the
    library's latest write; a stat is cheap enough to do before every read.
    """
    try:
        st = os.stat(path / GENERATION_FILE)
    except FileNotFoundError:
        return ""
    return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"


def write_in_progress(path: Path) -> bool:
    """True while a writer holds the library, or after one was killed mid-write."""
    return (path / WRITING_MARKER).exists()


def connect(location: str, *, create: bool = True) -> "Connection":
    """Return the process-wide connection for `location` (one per path or server).

    `create=False` refuses a directory that holds no library yet instead of making one.
    """
    if "://" in location and not is_server(location):
        raise UsageError(f"library location {location!r}: only http:// and https:// servers "
                         "or a directory are supported (set --library / AGENTLIB_STORE)")
    key = location if is_server(location) else str(library_path(location))
    with _HANDLES_LOCK:
        if key not in _HANDLES:
            if not is_server(location):
                _check_directory(Path(key), location, create)
            _HANDLES[key] = Connection(location, key)
        return _HANDLES[key]


def _check_directory(path: Path, location: str, create: bool) -> None:
    if path.exists() and not path.is_dir():
        raise StoreError(f"library location {location} is a file, not a library directory; "
                         "give a directory (--library / AGENTLIB_STORE)")
    if not create and not (path / "chroma.sqlite3").is_file():
        what = "holds no library" if path.exists() else "does not exist"
        raise StoreError(f"library {location} {what}; check --library / AGENTLIB_STORE "
                         "(`agentlib solve` creates a library on its first task)")


class Connection:
    """A Chroma client plus the lock and generation file that keep processes consistent."""

    def __init__(self, location: str, key: str) -> None:
        self.location = location
        self.key = key
        self.server = is_server(location)
        self.path = None if self.server else Path(key)
        if self.path is not None:
            self.path.mkdir(parents=True, exist_ok=True)
        self.thread_lock = threading.RLock()
        self._depth = 0
        self.seen_generation = self.generation()
        self.client = self._open_client()
        self._collections: dict[str, Any] = {}
        self.reopens = 0
        """How often this process reopened the client (each drops every cached view)."""
        self.vectors_verified = ""
        """The generation at which every vector was last read back whole."""
        self.recovery: Callable[[], None] | None = None
        """Called under the lock when a writer was killed mid-write (set by the Library)."""
        self.before_write: Callable[[], None] | None = None
        """Called under the lock at the start of each outermost write (set by the Library)."""
        self.unchanged: tuple[str, str] | None = None
        """(before, after): the generations around this process's last write that changed no
        record (`write(hooks=False)`)."""
        self.after_commit: Callable[[], None] | None = None
        """Called under the lock after each outermost write that succeeded, once the
        generation has changed (set by the Library: it writes the read snapshot)."""

    # ------------------------------------------------------------------ client

    def _open_client(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False)
        if self.server:
            url = urlparse(self.location)
            self._probe_server()
            return chromadb.HttpClient(host=url.hostname, port=url.port or 8000,
                                       ssl=url.scheme == "https", settings=settings)
        return chromadb.PersistentClient(path=str(self.path), settings=settings)

    def _probe_server(self) -> None:
        """Fail fast, with one StoreError, when the server does not answer (chromadb's own
        client waits without a timeout)."""
        import urllib.error
        import urllib.request

        try:
            urllib.request.urlopen(self.location.rstrip("/") + "/api/v2/heartbeat",
                                   timeout=SERVER_PROBE_S).close()
        except urllib.error.HTTPError:
            return  # it answers; chromadb's client says what it thinks of the answer
        except OSError as exc:
            reason = getattr(exc, "reason", exc)
            raise StoreError(f"the Chroma server {self.location} does not answer ({reason}); "
                             "start it with `chroma run --path DIR` or fix --library / "
                             "AGENTLIB_STORE") from None

    def reopen(self) -> None:
        """Drop this process's Chroma state for the path and load it afresh from disk."""
        if self.server:
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        system = SharedSystemClient._identifier_to_system.pop(str(self.path), None)
        SharedSystemClient._identifier_to_refcount.pop(str(self.path), None)
        if system is not None:
            system.stop()
        self.client = self._open_client()
        self.reopens += 1
        self._collections.clear()
        self.seen_generation = self.generation()

    def forget(self, name: str) -> None:
        """Drop the cached handle of a collection (after it was deleted or renamed)."""
        self._collections.pop(name, None)

    def collection(self, name: str, metadata: dict[str, Any] | None = None):
        """Return the named collection, created with `metadata` and our HNSW settings if new.

        A process whose view is stale (another process wrote) reopens first: Chroma's
        in-memory index of the old view fails reads with "Error finding id".
        """
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
        pending = self._pending_reindex(name)
        if pending is not None:  # a reindex was killed after dropping the old collection
            pending.modify(name=name)
            return self.client.get_collection(name, embedding_function=None)
        return self.client.get_or_create_collection(
            name, metadata=metadata or None, configuration={"hnsw": dict(HNSW)},
            embedding_function=None)

    def _pending_reindex(self, name: str):
        from chromadb.errors import NotFoundError

        try:
            return self.client.get_collection(name + REINDEX_SUFFIX, embedding_function=None)
        except (NotFoundError, ValueError):
            return None

    def read_records(self, name: str) -> tuple[list[str], list[dict], list[str]]:
        """Return (ids, metadatas, documents) of a collection without touching its vectors.

        Embedded mode reads Chroma's SQLite tables directly: with torn HNSW files even a
        metadata-only `get` can crash inside chromadb. Servers go through the API.
        """
        if self.server:
            got = fetch_all(self.collection(name), ["metadatas", "documents"])
            return got["ids"], got["metadatas"], got["documents"]
        import sqlite3

        assert self.path is not None
        db = sqlite3.connect(f"file:{self.path / 'chroma.sqlite3'}?mode=ro", uri=True)
        try:
            rows = db.execute(
                "SELECT e.embedding_id, m.key, m.string_value, m.int_value, m.float_value, "
                "m.bool_value FROM collections c JOIN segments s ON s.collection = c.id "
                "JOIN embeddings e ON e.segment_id = s.id "
                "JOIN embedding_metadata m ON m.id = e.id "
                "WHERE c.name = ? AND s.scope = 'METADATA' ORDER BY e.id", (name,)).fetchall()
        finally:
            db.close()
        records: dict[str, dict[str, Any]] = {}
        for record_id, key, text, integer, real, boolean in rows:
            value = (text if text is not None else integer if integer is not None
                     else real if real is not None else bool(boolean))
            records.setdefault(record_id, {})[key] = value
        ids = list(records)
        documents = [records[i].pop("chroma:document", "") for i in ids]
        return ids, [records[i] for i in ids], documents

    # ------------------------------------------------------------------ consistency

    def generation(self) -> str:
        """Return a token that changes with every write ('' for a server or a new library)."""
        return "" if self.path is None else generation_token(self.path)

    def _bump(self) -> None:
        assert self.path is not None
        token = uuid.uuid4().hex
        tmp = self.path / f"{GENERATION_FILE}.{os.getpid()}"
        tmp.write_text(token)
        os.replace(tmp, self.path / GENERATION_FILE)
        self.seen_generation = self.generation()

    @property
    def writing(self) -> bool:
        """True while this process holds the write lock (any thread)."""
        return self._depth > 0

    def stale(self) -> bool:
        """True when another process wrote since this one last opened or wrote."""
        return self.generation() != self.seen_generation

    @property
    def _dirty_marker(self) -> Path:
        assert self.path is not None
        return self.path / WRITING_MARKER

    def recover_if_interrupted(self) -> bool:
        """Repair the library if a writer died mid-write; return True when one did."""
        if self.server or not self._dirty_marker.exists():
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

    def refresh(self) -> None:
        """Reopen (under the write lock) if another process wrote since this one looked."""
        if self.server or not self.stale():
            return
        from filelock import FileLock

        assert self.path is not None
        with self.thread_lock, FileLock(str(self.path / ".agentlib.lock"), timeout=300):
            if self.stale():
                self.reopen()

    @contextmanager
    def write(self, hooks: bool = True) -> Iterator[None]:
        """Hold the library's exclusive write lock (re-entrant), fresh from disk inside it.

        `hooks=False`: a write that changes no record (probing the vector index), without
        `before_write` and `after_commit`, which read Chroma in this process.
        """
        with self.thread_lock:
            if self.server or self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            from filelock import FileLock

            assert self.path is not None
            with FileLock(str(self.path / ".agentlib.lock"), timeout=300):
                if self.stale():
                    self.reopen()
                self._recover()
                before = self.generation()
                self._dirty_marker.touch()
                self._depth += 1
                committed = False
                try:
                    if hooks and self.before_write is not None:
                        self.before_write()
                    yield
                    committed = hooks
                finally:
                    self._depth -= 1
                    self._bump()
                    if not hooks:
                        self.unchanged = (before, self.generation())
                    if committed and self.after_commit is not None:
                        self._depth += 1  # its reads go to Chroma, still under the lock
                        try:
                            self.after_commit()
                        finally:
                            self._depth -= 1
                    self._dirty_marker.unlink(missing_ok=True)


def rebuild_collection(conn: Any, name: str, metadata: dict[str, Any],
                       text_of: Callable[[dict[str, Any]], str],
                       embed: Callable[[list[str]], list[list[float]]]) -> int:
    """Re-embed every record of collection `name` beside it, then swap it in; return the count.

    A crash before the swap leaves the old collection; one during it is finished on the next
    open (`REINDEX_SUFFIX`). Call it under the write lock.
    """
    client = conn.client
    old = conn.collection(name, metadata)
    hnsw = dict(old.configuration.get("hnsw") or HNSW)
    ids, metadatas, _ = conn.read_records(name)
    temp_name = name + REINDEX_SUFFIX
    try:
        client.delete_collection(temp_name)
    except Exception:  # noqa: BLE001 - chromadb raises different types for "absent"
        pass
    new = client.create_collection(temp_name, metadata=metadata,
                                   configuration={"hnsw": hnsw}, embedding_function=None)
    texts = [text_of(m) for m in metadatas]
    batch = 1000
    for start in range(0, len(texts), batch):
        chunk = slice(start, start + batch)
        new.add(ids=ids[chunk], metadatas=metadatas[chunk], documents=texts[chunk],
                embeddings=embed(texts[chunk]))
    client.delete_collection(name)
    conn.forget(name)
    new.modify(name=name)
    conn.forget(temp_name)
    return len(texts)


def where_clause(filters: dict[str, Any]) -> dict[str, Any] | None:
    """Chroma's `where` for equality conditions on metadata fields (a list value: one of
    them; None: no condition)."""
    clauses = [{key: {"$in": value} if isinstance(value, list) else value}
               for key, value in filters.items()]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
