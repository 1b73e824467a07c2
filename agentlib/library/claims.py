"""Who may make a module active on a Chroma server: the first writer to claim the next slot.

A Chroma server has no locks, but it applies each call atomically and in one order, and its
`add` is create-if-absent: an id that is already stored is left exactly as it is, without an
error, and every client reads back the same winner (`tests/test_store_server.py::
test_chroma_add_keeps_the_first_record_of_an_id_under_concurrency`). So every change that makes
a module active (a new name, a new version, a revival) first claims slot n+1 of its name — a
record with id "NAME#n+1" in the `claims` collection, n being the latest slot the writer read
— and only the writer whose claim reads back as its own goes on. It had verified its module
against the module active at slot n, so no version is superseded without passing its
predecessor's tests, and no two writers make two modules of one name active.

A claim carries the whole record (metadata, text and vector), so anyone can finish it: the
writer that claimed it, or, should it die or stall, the next writer of that name, which rolls
the latest claim forward before reading the name's state. Finishing is idempotent and in an
order that never shows two active versions: first the predecessor, if still active, is marked
superseded, then the new record is `add`ed (create-if-absent, so a late duplicate of the same
step is a no-op).
docs/scale-out.md gives the whole argument.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from agentlib.library.records import from_metadata, to_metadata
from agentlib.library.text import embedding_text
from agentlib.model import Module

CLAIMS = "claims"


@dataclass
class Head:
    """What a name stands at: its latest claimed slot and its active module."""

    slot: int
    active: Module | None


def _collection(library: Any):
    return library.conn.collection(CLAIMS, library.collection_metadata)


def claim_id(name: str, slot: int) -> str:
    return f"{name}#{slot}"


def _latest(library: Any, name: str) -> dict[str, Any] | None:
    got = _collection(library).get(where={"name": name}, include=["metadatas"])
    metas = [m for m in got["metadatas"] if m.get("claim_slot")]
    return max(metas, key=lambda m: int(m["claim_slot"])) if metas else None


def head(library: Any, name: str) -> Head:
    """Finish the name's latest claim if it was left unfinished, then read its state."""
    latest = _latest(library, name)
    if latest is not None:
        finish(library, latest)
    return Head(int(latest["claim_slot"]) if latest else 0, library.get(name))


def finish(library: Any, claim: dict[str, Any]) -> None:
    """Apply a claim (again): supersede its predecessor, then add or re-activate its module."""
    modules = library.modules
    module_id = claim["id"]
    previous = claim.get("claim_previous") or ""
    if previous and previous != module_id:
        got = modules.get(ids=[previous], include=["metadatas"])
        if got["ids"] and got["metadatas"][0].get("status") == "active":  # not a later prune
            modules.update(ids=[previous], metadatas=[{"status": "superseded"}])
    if claim.get("claim_kind") == "revive":
        _revive(library, claim)
        return
    if modules.get(ids=[module_id], include=[])["ids"]:
        return
    got = _collection(library).get(ids=[claim_id(claim["name"], int(claim["claim_slot"]))],
                                   include=["embeddings", "documents"])
    module = from_metadata(claim)
    modules.add(ids=[module_id], embeddings=[list(got["embeddings"][0])],
                documents=[got["documents"][0]], metadatas=[to_metadata(module)])


def _revive(library: Any, claim: dict[str, Any]) -> None:
    """Make a pruned module active again, and undo it if a later slot appeared meanwhile.

    Unlike `add`, a status update is not create-if-absent: a revival that lands after the next
    slot's writer superseded the module would leave two active versions. Each reviver reads
    the slots again after its update and supersedes the module if a later one exists; by the
    server's single order, whoever updated last sees the later slot.
    """
    modules = library.modules
    name, slot = claim["name"], int(claim["claim_slot"])
    if _latest_slot(library, name) > slot:
        return
    modules.update(ids=[claim["id"]], metadatas=[{"status": "active"}])
    if _latest_slot(library, name) > slot:
        modules.update(ids=[claim["id"]], metadatas=[{"status": "superseded"}])


def _latest_slot(library: Any, name: str) -> int:
    latest = _latest(library, name)
    return int(latest["claim_slot"]) if latest else 0


def claim(library: Any, module: Module, vector: list[float], slot: int,
          previous: Module | None, kind: str = "commit") -> bool:
    """Try to take slot `slot` of the module's name; True when this writer won it."""
    return claim_many(library, [(module, vector, slot, previous, kind)]) == {module.id}


def claim_many(library: Any,
               wanted: list[tuple[Module, list[float], int, Module | None, str]]) -> set[str]:
    """Claim several slots in one call; return the ids of the modules whose claim won.

    Each entry is (module, vector, slot, predecessor or None, "commit" | "revive"). The won
    claims are finished before this returns.
    """
    if not wanted:
        return set()
    owner = uuid.uuid4().hex
    ids, metas, documents, vectors = [], [], [], []
    for module, vector, slot, previous, kind in wanted:
        ids.append(claim_id(module.name, slot))
        metas.append({**to_metadata(module), "claim_slot": slot, "claim_kind": kind,
                      "claim_previous": previous.id if previous else "",
                      "claim_owner": owner, "claim_at": time.time()})
        documents.append(embedding_text(module))
        vectors.append(list(vector))
    collection = _collection(library)
    collection.add(ids=ids, metadatas=metas, documents=documents, embeddings=vectors)
    got = collection.get(ids=ids, include=["metadatas"])
    won = [meta for meta in got["metadatas"] if meta.get("claim_owner") == owner]
    for meta in won:
        finish(library, meta)
    return {meta["id"] for meta in won}


def unfinished(library: Any) -> list[dict[str, Any]]:
    """The latest claim of each name whose module is not stored (a writer died midway)."""
    got = _collection(library).get(include=["metadatas"])
    latest: dict[str, dict[str, Any]] = {}
    for meta in got["metadatas"]:
        if meta.get("claim_slot") and (meta["name"] not in latest or int(meta["claim_slot"])
                                       > int(latest[meta["name"]]["claim_slot"])):
            latest[meta["name"]] = meta
    if not latest:
        return []
    ids = sorted({m["id"] for m in latest.values() if m.get("claim_kind") != "revive"})
    stored = set(library.modules.get(ids=ids, include=[])["ids"]) if ids else set()
    return [m for name, m in sorted(latest.items())
            if m.get("claim_kind") != "revive" and m["id"] not in stored]
