"""Usage counters, gathered in memory and written in one write (per solve, or at close).

Counting a retrieval or a reuse used to take the write lock once per counter; now
`update_counters` only adds to this process's pending increments, reads of this process show
them at once, and `flush` writes them all — module and insight counters together — in one
write that touches only the counter fields (so it never undoes another writer's status
change). On a server two processes flushing the same record at once can lose one's
increments (Chroma has no atomic increment); counters are statistics, not verified behaviour.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import fields, replace
from typing import Any, TypeVar

from agentlib.errors import StoreError

R = TypeVar("R")


def counter_names(record_type: type) -> set[str]:
    """A record type's counters: its whole-number fields (a module's version aside)."""
    return {f.name for f in fields(record_type) if f.type in (int, "int") and f.name != "version"}


def checked(record_type: type, increments: dict[str, int], what: str) -> None:
    """Refuse increments of fields that are not counters of `record_type`."""
    allowed = counter_names(record_type)
    unknown = sorted(set(increments) - allowed)
    if unknown:
        raise StoreError(f"unknown counter(s) {unknown} of an {what}; use {sorted(allowed)}")


class PendingCounters:
    """Increments not yet written: {record id: Counter}, plus the task texts insights keep."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.modules: dict[str, Counter] = {}
        self.insights: dict[str, Counter] = {}
        self.evidence: dict[str, dict[str, list[str]]] = {}
        """{insight id: {"helped_on" | "misled_on": task texts}} to append."""

    def __bool__(self) -> bool:
        return bool(self.modules or self.insights)

    def count(self, kind: str, record_id: str, increments: dict[str, int]) -> None:
        with self._lock:
            pending = getattr(self, kind).setdefault(record_id, Counter())
            pending.update({k: v for k, v in increments.items() if v})

    def keep_task(self, insight_id: str, field: str, task: str) -> None:
        with self._lock:
            self.evidence.setdefault(insight_id, {}).setdefault(field, []).append(task)

    def view(self, kind: str, record: R, keep: int = 0) -> R:
        """The record as it reads with this process's pending increments added."""
        pending = getattr(self, kind).get(record.id)
        tasks = self.evidence.get(record.id) if kind == "insights" else None
        if not pending and not tasks:
            return record
        changes: dict[str, Any] = {k: getattr(record, k) + v for k, v in (pending or {}).items()}
        for field, texts in (tasks or {}).items():
            changes[field] = (getattr(record, field) + texts)[-keep:]
        return replace(record, **changes)

    def take(self) -> tuple[dict[str, Counter], dict[str, Counter], dict]:
        with self._lock:
            taken = self.modules, self.insights, self.evidence
            self.modules, self.insights, self.evidence = {}, {}, {}
            return taken

    def give_back(self, taken: tuple[dict[str, Counter], dict[str, Counter], dict]) -> None:
        """Put increments that could not be written back, for the next flush."""
        modules, insights, evidence = taken
        for record_id, pending in modules.items():
            self.count("modules", record_id, pending)
        for record_id, pending in insights.items():
            self.count("insights", record_id, pending)
        for record_id, kept in evidence.items():
            for field, texts in kept.items():
                for text in texts:
                    self.keep_task(record_id, field, text)


def flush(library: Any) -> int:
    """Write every pending counter of `library` (a Library) in one write; return how many
    records it touched. On failure the increments stay pending and the error is raised."""
    from agentlib.library.persist import write_fields

    pending = library.pending
    if not pending:
        return 0
    taken = pending.take()
    modules, insights, evidence = taken
    try:
        with library.write_transaction():
            stored = [m for m in (library.stored(i) for i in sorted(modules)) if m is not None]
            for module in stored:
                for name, value in modules[module.id].items():
                    setattr(module, name, getattr(module, name) + value)
            keys = sorted({k for c in modules.values() for k in c})
            if stored and keys:
                write_fields(library, stored, keys)
            return len(stored) + library.insights.write_counters(insights, evidence)
    except BaseException:
        pending.give_back(taken)
        raise
