"""`check`: is every record whole, every vector present, every dependency resolvable?

Each function takes the `agentlib.library.store.Library` to check.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from agentlib.code import module_id
from agentlib.library.records import LATER_FIELDS, fetch_all
from agentlib.model import Insight, Module

_REQUIRED = {f.name for f in fields(Module)} - set(LATER_FIELDS)
_INSIGHT_REQUIRED = {f.name for f in fields(Insight)}


def _vectors(collection, label: str, dimension: int, problems: list[str], text_of=None):
    """Return (ids, metadatas) and record unreadable, missing or mis-sized vectors, and (with
    `text_of`, metadata -> the text embedded today) records embedded from another text."""
    try:
        got = fetch_all(collection, ["metadatas", "embeddings", "documents"])
    except Exception as exc:  # noqa: BLE001 - any failure here is the finding
        problems.append(f"{label}: the vector index cannot be read ({type(exc).__name__}: "
                        f"{exc}); run `agentlib lib reindex` to rebuild it")
        got = fetch_all(collection, ["metadatas"])
        return got["ids"], got["metadatas"]
    embeddings = got["embeddings"] if got["embeddings"] is not None else [None] * len(got["ids"])
    for record_id, vector, document in zip(got["ids"], embeddings, got["documents"], strict=True):
        if vector is None or len(vector) == 0:
            problems.append(f"{label} {record_id}: no embedding")
        elif dimension and len(vector) != dimension:
            problems.append(f"{label} {record_id}: embedding of dimension {len(vector)}, "
                            f"expected {dimension}")
        if not document:
            problems.append(f"{label} {record_id}: no embedded text")
    if text_of is not None:
        stale = 0
        for meta, document in zip(got["metadatas"], got["documents"], strict=True):
            try:
                stale += bool(document) and document != text_of(meta)
            except Exception:  # noqa: BLE001 - an unreadable record is reported elsewhere
                continue
        if stale:
            problems.append(f"{label}s: {stale} record(s) were embedded from an older form of "
                            "their text (an earlier agentlib); run `agentlib lib reindex`")
    return got["ids"], got["metadatas"]


_PROBE = """
import sys
import chromadb
from chromadb.config import Settings
client = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
for name in sys.argv[2:]:
    try:
        collection = client.get_collection(name)
    except Exception:
        continue
    got = collection.get(include=["embeddings"])
    if len(got["ids"]) == collection.count():
        print(name, flush=True)
"""


def unreadable_vectors(library: Any) -> list[str]:
    """Return the collections whose vectors cannot all be read back (torn HNSW files).

    Embedded mode reads them in a child process: a torn index file can crash the reader
    (measured: a segfault inside chromadb), and that must not take this process down. The
    child may also apply Chroma's pending log to the index files, so this process reopens
    afterwards; call it under the write lock.
    """
    from agentlib.library.chroma import INSIGHTS, MODULES

    conn = library.conn
    if conn.server:
        return []
    import subprocess
    import sys

    names = [MODULES, INSIGHTS]
    probe = subprocess.run([sys.executable, "-c", _PROBE, str(conn.data_path), *names],
                           capture_output=True, text=True, timeout=600)
    conn.reopen()
    readable = set(probe.stdout.split())
    return [name for name in names if name not in readable]


def _verified_vectors(library: Any) -> tuple[list[str], tuple[str, str] | None]:
    """Probe the vectors unless they were read back whole at this very generation; return
    the torn collections and the library's stamps before and after the probe (a write)."""
    from agentlib.library.snapshot import library_stamp

    conn = library.conn
    if conn.server or (conn.vectors_verified and conn.vectors_verified == conn.generation()):
        return [], None
    if conn.read_only:  # a private copy: nobody else writes it
        return unreadable_vectors(library), None
    with conn.write(snapshot=False):  # the snapshot would read vectors that may be torn
        before = library_stamp(conn.path)
        torn = unreadable_vectors(library)
    if not torn:
        conn.vectors_verified = conn.generation()
    return torn, (before, library_stamp(conn.path))


def _module_problems(record_id: str, meta: dict) -> tuple[Module | None, list[str]]:
    from agentlib.library.records import from_metadata

    missing = _REQUIRED - set(meta or {})
    if missing:
        return None, [f"module {record_id}: missing field(s) {sorted(missing)}"]
    try:
        module = from_metadata(meta)
    except (TypeError, ValueError) as exc:
        return None, [f"module {record_id}: unreadable record ({exc})"]
    problems = []
    if not module.tests:
        problems.append(f"module {module.name} ({record_id}): no tests")
    if not module.source.strip():
        problems.append(f"module {module.name} ({record_id}): no source")
    else:
        try:
            if module_id(module.source) != record_id:
                problems.append(f"module {module.name} ({record_id}): id is not the hash of "
                                "its source")
        except SyntaxError:
            problems.append(f"module {module.name} ({record_id}): source does not parse")
    if module.status not in ("active", "superseded", "pruned"):
        problems.append(f"module {module.name} ({record_id}): unknown status {module.status!r}")
    return module, problems


def leftovers(library: Any, repair: bool) -> list[str]:
    """What killed processes left behind (removed or finished first with `repair`): partial
    collections of a killed reindex, and a server's claims whose writer died midway."""
    from agentlib.library import claims
    from agentlib.library.reindex import drop_leftovers
    from agentlib.library.reindex import leftovers as partial_collections

    conn = library.conn
    if repair:
        drop_leftovers(conn)
        for claim in claims.unfinished(library) if conn.server else []:
            claims.finish(library, claim)
    problems = [f"{name}: a partial collection ({count} record(s)) left by a killed "
                "`agentlib lib reindex`; `agentlib lib check --repair` removes it"
                for name, count in partial_collections(conn)]
    for claim in claims.unfinished(library) if conn.server else []:
        problems.append(f"claim {claim['name']}#{claim['claim_slot']}: {claim['name']} "
                        f"v{claim['version']} ({claim['id']}) was claimed but not stored (its "
                        "writer stopped midway); `agentlib lib check --repair` stores it")
    return problems


def check(library: Any, run_tests: bool = False, repair: bool = False) -> list[str]:
    """Return a list of problems; with `run_tests`, also re-run every active module's tests;
    with `repair`, first remove or finish what killed processes left (`leftovers`)."""
    problems: list[str] = leftovers(library, repair)
    dimension = int(getattr(library.embedder, "dimension", 0) or 0)
    torn, probed = _verified_vectors(library)
    if torn:
        return problems + [f"{name}: the vector index cannot be read back whole (torn index "
                           "files?); run `agentlib lib reindex` to rebuild it" for name in torn]
    from agentlib.library.records import from_metadata
    from agentlib.library.text import embedding_text

    ids, metas = _vectors(library.modules, "module", dimension, problems,
                          lambda meta: embedding_text(from_metadata(meta)))
    if library.modules.count() != len(ids):
        problems.append(f"modules: count() says {library.modules.count()}, "
                        f"but {len(ids)} records were read")
    active: dict[str, Module] = {}
    for record_id, meta in zip(ids, metas, strict=True):
        module, found = _module_problems(record_id, meta)
        problems += found
        if module is not None and module.status == "active":
            if module.name in active:
                problems.append(f"two active modules named {module.name}: "
                                f"{active[module.name].id} and {module.id}")
            active[module.name] = module
    for module in active.values():
        missing_deps = [dep for dep in module.dependencies if dep not in active]
        for dep in missing_deps:
            problems.append(f"module {module.name}: dependency {dep} is not active "
                            "(restore it, or re-solve the module)")
        if missing_deps:
            continue
        try:
            library.program_for(module)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            problems.append(f"module {module.name}: {exc}")
    ids, metas = _vectors(library.insights.collection, "insight", dimension, problems)
    for record_id, meta in zip(ids, metas, strict=True):
        missing = _INSIGHT_REQUIRED - set(meta or {})
        if missing:
            problems.append(f"insight {record_id}: missing field(s) {sorted(missing)}")
        else:
            try:
                json.loads(meta["merged_from"])
            except (TypeError, ValueError):
                problems.append(f"insight {record_id}: unreadable merged_from")
    from agentlib.library.snapshot import snapshot_problems

    problems += snapshot_problems(library, repair, probed)
    if run_tests and not problems:
        problems += _failing_tests(library, list(active.values()))
    return problems


def _failing_tests(library: Any, modules: list[Module]) -> list[str]:
    from agentlib.model import TestCase
    from agentlib.sandbox import run

    problems = []
    for module in modules:
        verdict = run(library.program_for(module), [TestCase(t) for t in module.tests])
        if not verdict.passed:
            first = verdict.failures[0] if verdict.failures else None
            why = (f"{first.test}: {first.error_type} {first.message}".strip() if first
                   else f"{verdict.ended} {verdict.detail}")
            problems.append(f"module {module.name}: stored tests fail now ({why})")
    return problems
