"""Store a verified refactor all or nothing: the helper first, then the new versions.

"Atomic" with the library's API: each `Library.add` is one all-or-nothing write, and a new
version supersedes the old one in that same write. A commit of several modules is made
atomic on top of that:
- it holds the library's write lock for all its adds, so no other process interleaves with
  (or writes between) them;
- an add that fails midway is undone under the same lock — records that were new are deleted,
  superseded versions made active again — and the error is raised;
- before the first add a journal (the plan: each name's previous and new record) is written
  beside an embedded library and removed once the commit or its rollback is done; a process
  killed midway leaves the journal, and `recover` (run at the start of every refactor, dedup
  and prune) rolls the half-done commit back.
Even before that recovery, a half-done commit is a sound library: the helper is stored first
and every new version was verified with it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from agentlib.errors import StoreError
from agentlib.model import Module

JOURNAL = ".agentlib.refactor-journal.json"


@dataclass
class Planned:
    """One add of a commit: enough to undo it."""

    name: str
    new_id: str
    previous_id: str | None
    """The version active under this name before (None: a new name)."""
    new_record: bool


def _journal(library) -> Path | None:
    path = getattr(library.conn, "path", None)
    return Path(path) / JOURNAL if path else None


def _write_journal(library, plan: list[Planned]) -> None:
    journal = _journal(library)
    if journal is None:
        return
    tmp = journal.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps([asdict(p) for p in plan]))
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, journal)


def _drop_journal(library) -> None:
    journal = _journal(library)
    if journal is not None:
        journal.unlink(missing_ok=True)


def commit(library, modules: list[Module]) -> list[Module]:
    """Add `modules` in order, all or none; return the stored records."""
    stored: list[Module] = []
    with library.conn.write():
        recover(library)
        plan = []
        for module in modules:
            previous = library.get(module.name)
            plan.append(Planned(module.name, module.id, previous.id if previous else None,
                                library.get_by_id(module.id) is None))
        _write_journal(library, plan)
        try:
            with library.write_transaction():
                for module in modules:
                    record = library.add(module)
                    stored.append(record)
                    if record.status != "active":
                        raise StoreError(f"{module.name}: this code is already stored as a "
                                         f"{record.status} version ({record.id}); not re-activated")
        except BaseException:
            rollback(library, plan)
            raise
        _drop_journal(library)
    return stored


def rollback(library, plan: list[Planned]) -> None:
    """Undo a commit's plan: restore the previous versions, delete the records that were new."""
    statuses: dict[str, str] = {}
    delete: list[str] = []
    for step in reversed(plan):
        current = library.get(step.name)
        unchanged_since = current is None or current.id == step.new_id
        if step.previous_id is not None and step.previous_id != step.new_id and unchanged_since:
            statuses[step.previous_id] = "active"
        if step.new_record and library.get_by_id(step.new_id) is not None:
            statuses[step.new_id] = "pruned"  # inactive at once, in the same write
            delete.append(step.new_id)
    library.set_statuses(statuses, delete)
    _drop_journal(library)


def recover(library) -> bool:
    """Roll back a commit that a killed process left half done; return True if there was one."""
    journal = _journal(library)
    if journal is None or not journal.exists():
        return False
    try:
        plan = [Planned(**step) for step in json.loads(journal.read_text())]
    except (ValueError, TypeError) as exc:
        raise StoreError(f"{journal} is not a refactor journal ({exc}); move it away to "
                         "continue") from exc
    with library.conn.write():
        rollback(library, plan)
    return True
