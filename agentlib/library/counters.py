"""Usage counters without a Chroma write: an append-only journal, folded in at the next write.

Counting a reuse must not cost a Chroma write (importing chromadb alone is ~0.7 s, and each
write rewrites the read snapshot). So in an embedded library every counter update (a
module's times_retrieved/reused/failed, an insight's retrieved/helped/misled and the task it
helped or misled) is one JSON line appended to `.agentlib.counters`, and readers outside a
write add the pending lines to what they read (`counted`). The first thing every write does,
under the write lock, is fold the journal into Chroma (`fold`), crash-safely: the journal is
renamed aside, the counter values it leads to are written to a targets file, then set in
Chroma (absolute values: setting them twice is harmless), then the files are removed; a fold
cut short is finished by the next write. A line cut short by a crash is skipped. A Chroma
server has no journal: its counters are written at once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

JOURNAL = ".agentlib.counters"
FOLDING = ".agentlib.counters.folding"
TARGETS = ".agentlib.counters.targets.json"
LOCK = ".agentlib.counters.lock"
FOLD_BYTES = 256 * 1024
"""A journal this long is folded at once (a reader re-reads it whenever it grows)."""

MODULE_COUNTERS = ("times_retrieved", "times_reused", "times_failed")
_EVIDENCE = {"helped": "helped_on", "misled": "misled_on"}


def append(library_dir: Path, collection: str, record_id: str, increments: dict[str, int],
           task: str | None = None) -> int:
    """Add one counter update to the journal; return the journal's size in bytes."""
    from filelock import FileLock

    line = json.dumps({"c": collection, "id": record_id, "inc": increments,
                       **({"task": task} if task else {})}) + "\n"
    path = Path(library_dir)
    with FileLock(str(path / LOCK), timeout=60):
        with open(path / JOURNAL, "a", encoding="utf-8") as handle:
            handle.write(line)
            return handle.tell()


def _entries(path: Path) -> list[dict[str, Any]]:
    """The journal's well-formed lines (a line a crash cut short is skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    found = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("inc"), dict) and "id" in entry:
            found.append(entry)
    return found


def counted(record: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A metadata record with the journal's updates of it applied (a copy).

    An insight keeps the tasks it helped or misled, the latest `EVIDENCE_KEPT` of each.
    """
    from agentlib.library.insights import EVIDENCE_KEPT

    record = dict(record)
    for entry in entries:
        for name, value in entry["inc"].items():
            record[name] = int(record.get(name) or 0) + int(value)
            kept = _EVIDENCE.get(name)
            if kept and entry.get("task") and int(value) > 0:
                tasks = json.loads(record.get(kept) or "[]") + [entry["task"]]
                record[kept] = json.dumps(tasks[-EVIDENCE_KEPT:])
    return record


class JournalReader:
    """The pending counter updates of one library, re-read only when the journal changes."""

    def __init__(self, library_dir: Path) -> None:
        self.path = Path(library_dir) / JOURNAL
        self._seen: tuple[int, int, int] | None = None
        self._pending: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def pending(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """{(collection, id): its updates, oldest first} not yet folded into Chroma."""
        try:
            st = os.stat(self.path)
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            self._seen, self._pending = None, {}
            return self._pending
        if stamp != self._seen:
            grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for entry in _entries(self.path):
                grouped.setdefault((str(entry.get("c")), str(entry["id"])), []).append(entry)
            self._seen, self._pending = stamp, grouped
        return self._pending

    def apply(self, collection: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`records` of `collection` with their pending updates applied."""
        pending = self.pending()
        if not pending:
            return records
        return [counted(r, pending[(collection, r.get("id"))])
                if (collection, r.get("id")) in pending else r for r in records]


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(value, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _set(collections: dict[str, Any], targets: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Set counter values in Chroma (partial metadata: the other fields stay)."""
    for name, values in targets.items():
        if values:
            ids = sorted(values)
            collections[name].update(ids=ids, metadatas=[values[i] for i in ids])


def fold(library_dir: Path, collections: dict[str, Any]) -> dict[str, dict[str, dict]]:
    """Fold the journal into Chroma; return the values it set, {collection: {id: fields}}.

    `collections` maps a collection name to its Chroma collection. Call it under the write
    lock.
    """
    from filelock import FileLock

    path = Path(library_dir)
    targets_file, folding = path / TARGETS, path / FOLDING
    done: dict[str, dict[str, dict]] = {}
    if targets_file.exists():  # a fold cut short after deciding its values: finish it
        _set(collections, _merge(done, json.loads(targets_file.read_text(encoding="utf-8"))))
        folding.unlink(missing_ok=True)
        targets_file.unlink()
    for _ in range(2):  # a journal left aside by a cut-short fold, then the current one
        if not folding.exists():
            with FileLock(str(path / LOCK), timeout=60):
                if not (path / JOURNAL).exists():
                    return done
                os.replace(path / JOURNAL, folding)
        entries = _entries(folding)
        targets: dict[str, dict[str, dict[str, Any]]] = {}
        for name, collection in collections.items():
            mine = [e for e in entries if e.get("c") == name]
            ids = sorted({str(e["id"]) for e in mine})
            if not ids:
                continue
            got = collection.get(ids=ids, include=["metadatas"])
            for record_id, record in zip(got["ids"], got["metadatas"], strict=True):
                updated = counted(record, [e for e in mine if e["id"] == record_id])
                targets.setdefault(name, {})[record_id] = {
                    key: value for key, value in updated.items() if record.get(key) != value}
        _write_json(targets_file, targets)
        folding.unlink()
        _set(collections, _merge(done, targets))
        targets_file.unlink()
    return done


def _merge(done: dict[str, dict[str, dict]], targets: dict[str, dict[str, dict]]) -> dict:
    """Add `targets` to the values set so far (`done`); return `targets`."""
    for name, values in targets.items():
        for record_id, fields in values.items():
            done.setdefault(name, {}).setdefault(record_id, {}).update(fields)
    return targets
