"""Store a verified refactor all or nothing: the helper first, then the new versions.

"Atomic" with the library's API: each `Library.add` is one all-or-nothing write, and a new
version supersedes the old one in that same write. The commit holds the library's write lock
for all its adds, so no other process sees or interleaves with a half-done refactor; when an
add fails midway the records it already wrote are undone under the same lock — new records
deleted, superseded versions made active again — and the error is raised. Since the helper is
stored first and every new version was verified with it, a process killed between two adds
(where no rollback can run) still leaves a library whose active modules all pass their tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentlib.errors import StoreError
from agentlib.model import Module
from agentlib.refactor.programs import set_statuses


@dataclass
class Written:
    """One add of a commit, remembered so it can be undone."""

    stored: Module
    previous: Module | None
    """The version that was active under this name before (None: a new name)."""
    new_record: bool


def commit(library, modules: list[Module]) -> list[Module]:
    """Add `modules` in order, all or none; return the stored records."""
    written: list[Written] = []
    with library.conn.write():
        try:
            with library.write_transaction():
                for module in modules:
                    previous = library.get(module.name)
                    new_record = library.get_by_id(module.id) is None
                    stored = library.add(module)
                    written.append(Written(stored, previous, new_record))
                    if stored.status != "active":
                        raise StoreError(f"{module.name}: this code is already stored as a "
                                         f"{stored.status} version ({stored.id}); not re-activated")
        except BaseException:
            rollback(library, written)
            raise
    return [w.stored for w in written]


def rollback(library, written: list[Written]) -> None:
    """Undo the adds in `written`: restore previous versions, delete records that were new."""
    statuses: dict[str, str] = {}
    delete: list[str] = []
    for w in reversed(written):
        if w.previous is not None and w.previous.id != w.stored.id:
            statuses[w.previous.id] = "active"
        if w.new_record:
            statuses[w.stored.id] = "pruned"  # inactive at once, in the same write
            delete.append(w.stored.id)
    set_statuses(library, statuses, delete)
