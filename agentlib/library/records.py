"""How records are kept in Chroma: a module's fields as one metadata record, and back; reading
a collection in pages, or without its vectors; equality filters in Chroma's `where`."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from agentlib.model import Module

if TYPE_CHECKING:
    from agentlib.library.chroma import Connection

_JSON_FIELDS = {"tests": "[]", "dependencies": "[]", "verification": "{}"}
SHOWN_COUNTERS = ("times_shown", "times_shown_passed", "times_shown_failed",
                  "times_shown_called")
LATER_FIELDS = (*SHOWN_COUNTERS, "verification")
"""Fields added after the first libraries were written: a record without them reads the
default."""


def to_metadata(module: Module) -> dict[str, Any]:
    """The Chroma metadata of a module (lists and the verification record as JSON text)."""
    meta: dict[str, Any] = {}
    for f in fields(Module):
        value = getattr(module, f.name)
        meta[f.name] = json.dumps(value) if f.name in _JSON_FIELDS else value
    return meta


def from_metadata(meta: dict[str, Any]) -> Module:
    """The module a Chroma metadata record holds."""
    values = {f.name: meta.get(f.name) for f in fields(Module) if f.name in meta}
    for name, empty in _JSON_FIELDS.items():
        values[name] = json.loads(values.get(name) or empty)
    return Module(**values)


def read_records(conn: "Connection", name: str) -> tuple[list[str], list[dict], list[str]]:
    """Return (ids, metadatas, documents) of a collection without touching its vectors.

    Embedded mode reads Chroma's SQLite tables directly (read-only): with torn HNSW files
    even a metadata-only `get` can crash inside chromadb. Servers go through the API.
    """
    if conn.server:
        got = fetch_all(conn.collection(name), ["metadatas", "documents"])
        return got["ids"], got["metadatas"], got["documents"]
    import sqlite3

    root = conn.data_path
    assert root is not None
    db = sqlite3.connect(f"file:{root / 'chroma.sqlite3'}?mode=ro", uri=True)
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


def same_value(a: Any, b: Any) -> bool:
    """Whether a stored metadata value is the one written: equal, or a float to its last
    digit or two (Chroma's own JSON reading can return the nearest float but one)."""
    return a == b or (isinstance(a, float) and isinstance(b, float)
                      and math.isclose(a, b, rel_tol=1e-12))


def matches(record: dict[str, Any], where: dict[str, Any] | None) -> bool:
    """Whether a metadata record meets `where_clause`'s conditions, read in memory."""
    return all(record.get(key) in value if isinstance(value, list) else record.get(key) == value
               for key, value in (where or {}).items())


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


def where_clause(filters: dict[str, Any]) -> dict[str, Any] | None:
    """Chroma's `where` for equality conditions on metadata fields (a list value: one of
    them; None: no condition)."""
    clauses = [{key: {"$in": value} if isinstance(value, list) else value}
               for key, value in filters.items()]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
