"""Writing records to Chroma: each call whole or not at all, and its outcome told truthfully."""

from __future__ import annotations

import logging
from typing import Any, Callable

from agentlib.errors import StoreError
from agentlib.library.records import to_metadata
from agentlib.library.remote import LibraryUnavailable
from agentlib.library.text import embedding_text
from agentlib.model import Module

log = logging.getLogger("agentlib.library")


def upsert(library: Any, modules: list[Module],
           vectors: list[list[float] | None] | None = None) -> None:
    """Write whole records in one Chroma call (all or nothing); a None vector is the stored
    one of that id if its text is unchanged, else embedded now."""
    texts = [embedding_text(m) for m in modules]
    filled = list(vectors) if vectors is not None else [None] * len(modules)
    missing = [i for i, v in enumerate(filled) if v is None]
    if missing:
        stored = _stored_vectors(library, [modules[i].id for i in missing],
                                 [texts[i] for i in missing])
        fresh = [i for i in missing if modules[i].id not in stored]
        for i in missing:
            filled[i] = stored.get(modules[i].id)
        for i, vector in zip(fresh, library.embedder.embed([texts[i] for i in fresh]) if fresh
                             else [], strict=True):
            filled[i] = list(vector)
    metas = [to_metadata(m) for m in modules]
    guarded(library, lambda: library.modules.upsert(
        ids=[m.id for m in modules], embeddings=filled, documents=texts, metadatas=metas), metas)
    library.patched(modules, filled)


def add(library: Any, modules: list[Module], vectors: list[list[float]]) -> None:
    """Create records that are absent (an id already stored is left as it is)."""
    if not modules:
        return
    metas = [to_metadata(m) for m in modules]
    guarded(library, lambda: library.modules.add(
        ids=[m.id for m in modules], embeddings=[list(v) for v in vectors],
        documents=[embedding_text(m) for m in modules], metadatas=metas), metas)


def write_fields(library: Any, modules: list[Module], keys: list[str]) -> None:
    """Rewrite only `keys` of stored records' metadata (their text and vector stay)."""
    full = [to_metadata(m) for m in modules]
    metas = [{k: meta[k] for k in keys} for meta in full]
    guarded(library, lambda: library.modules.update(ids=[m.id for m in modules],
                                                    metadatas=metas), full, keys)
    library.patched(modules, None)


def _stored_vectors(library: Any, ids: list[str], texts: list[str]
                    ) -> dict[str, list[float]]:
    """Stored vectors of `ids` that were embedded from the same text (others re-embed)."""
    got = library.modules.get(ids=ids, include=["embeddings", "documents"])
    if not got["ids"]:
        return {}
    wanted = dict(zip(ids, texts, strict=True))
    return {i: list(v) for i, v, d in zip(got["ids"], got["embeddings"], got["documents"],
                                          strict=True) if d == wanted.get(i)}


def guarded(library: Any, write: Callable[[], object], metas: list[dict],
            keys: list[str] | None = None) -> None:
    """Run a write; if it fails, read back whether it landed and say so truthfully.

    A write that raised but whose records are stored (a full disk can fail Chroma after its
    SQLite commit) counts as done; one that is not stored raises StoreError saying nothing
    was stored; a server that stopped answering leaves it unknown, and says that.
    """
    try:
        write()
        return
    except LibraryUnavailable as exc:
        raise LibraryUnavailable(f"{exc}. The write of {len(metas)} record(s) may or may not "
                                 "have been stored; running the command again is safe (a "
                                 "stored record is not stored twice)") from exc
    except Exception as exc:  # noqa: BLE001 - what happened is read back, then reported
        failure = exc
        library.conn.suspect = True
    if _landed(library, metas, keys):
        log.warning("the library at %s reported an error (%s: %s) but the %d record(s) "
                    "were stored", library.location, type(failure).__name__, failure,
                    len(metas))
        return
    raise StoreError(f"writing {len(metas)} record(s) to the library at {library.location} "
                     f"failed ({type(failure).__name__}: {failure}); nothing was stored"
                     ) from failure


def _landed(library: Any, metas: list[dict], keys: list[str] | None) -> bool:
    from agentlib.library.chroma import MODULES
    from agentlib.library.records import read_records, same_value

    conn = library.conn
    try:
        if conn.server:
            got = library.modules.get(ids=[m["id"] for m in metas], include=["metadatas"])
            stored = dict(zip(got["ids"], got["metadatas"], strict=True))
        else:
            conn.reopen()  # the client that failed may hold a broken view
            ids, found, _ = read_records(conn, MODULES)
            stored = dict(zip(ids, found, strict=True))
    except Exception:  # noqa: BLE001 - cannot tell: counts as not stored, and is reported
        return False
    return all(m["id"] in stored and all(same_value(stored[m["id"]].get(k), m[k])
                                         for k in (keys or m)) for m in metas)
