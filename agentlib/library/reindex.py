"""Re-embedding a library: the slow part outside the write lock, the swap under it.

Each collection is rebuilt beside the old one (`NAME-reindex`) and swapped in. A crash before
the swap leaves the old collection and a partial `-reindex` one, which `lib check` reports and
`lib check --repair` removes; a crash during the swap (old one dropped, new one not yet
renamed) is finished on the next open (`Connection._get_or_create`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from agentlib.library.chroma import HNSW, INSIGHTS, MODULES, REINDEX_SUFFIX
from agentlib.library.records import read_records

if TYPE_CHECKING:
    from agentlib.library.chroma import Connection

BATCH = 1000


def _texts() -> dict[str, Callable[[dict[str, Any]], str]]:
    from agentlib.library.insights import insight_text
    from agentlib.library.records import from_metadata
    from agentlib.library.text import embedding_text

    return {MODULES: lambda meta: embedding_text(from_metadata(meta)), INSIGHTS: insight_text}


def _embed(embed: Callable[[list[str]], list[list[float]]], texts: list[str]) -> list[list[float]]:
    vectors: list[list[float]] = []
    for start in range(0, len(texts), BATCH):
        vectors += [list(v) for v in embed(texts[start:start + BATCH])]
    return vectors


def reindex(library: Any) -> int:
    """Re-embed every module and insight with the library's embedder; return the count.

    Embedding (the slow part) runs without the write lock; under it, records written since
    are embedded too, then each collection is rebuilt and swapped in.
    """
    conn = library.conn
    conn.refuse_writes()
    texts = _texts()
    ready: dict[str, dict[str, list[float]]] = {}
    for name, text_of in texts.items():  # the slow part: other processes go on meanwhile
        _, metas, _ = read_records(conn, name)
        wanted = sorted({text_of(m) for m in metas})
        ready[name] = dict(zip(wanted, _embed(library.embedder.embed, wanted), strict=True))
    total = 0
    with conn.write():
        for name, text_of in texts.items():
            ids, metas, _ = read_records(conn, name)
            docs = [text_of(m) for m in metas]
            late = sorted({d for d in docs if d not in ready[name]})
            ready[name].update(zip(late, _embed(library.embedder.embed, late), strict=True))
            total += rebuild_collection(conn, name, library.collection_metadata, ids, metas,
                                        docs, [ready[name][d] for d in docs])
        library.forget_index()
    return total


def rebuild_collection(conn: "Connection", name: str, metadata: dict[str, Any], ids: list[str],
                       metadatas: list[dict], documents: list[str],
                       vectors: list[list[float]]) -> int:
    """Write the records into `NAME-reindex`, then swap it in for `name`; return the count.

    Call it under the write lock.
    """
    client = conn.client
    old = conn.collection(name, metadata)
    hnsw = dict(old.configuration.get("hnsw") or HNSW)
    temp_name = name + REINDEX_SUFFIX
    if conn.pending_reindex(name) is not None:
        client.delete_collection(temp_name)
    new = client.create_collection(temp_name, metadata=metadata,
                                   configuration={"hnsw": hnsw}, embedding_function=None)
    for start in range(0, len(ids), BATCH):
        chunk = slice(start, start + BATCH)
        new.add(ids=ids[chunk], metadatas=metadatas[chunk], documents=documents[chunk],
                embeddings=vectors[chunk])
    client.delete_collection(name)
    conn.forget(name)
    new.modify(name=name)
    conn.forget(temp_name)
    return len(ids)


def leftovers(conn: "Connection") -> list[tuple[str, int]]:
    """(name, records) of partial collections a killed reindex left beside whole ones."""
    found = []
    for name in (MODULES, INSIGHTS):
        pending = conn.pending_reindex(name)
        if pending is not None:
            found.append((pending.name, pending.count()))
    return found


def drop_leftovers(conn: "Connection") -> list[str]:
    """Delete the partial collections of killed reindexes; return their names."""
    dropped = []
    with conn.write():
        for name, _ in leftovers(conn):
            conn.client.delete_collection(name)
            conn.forget(name)
            dropped.append(name)
    return dropped
