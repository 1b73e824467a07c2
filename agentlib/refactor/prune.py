"""Pruning: move modules that do not earn their place to status `pruned` (never deleted).

A record is pruned when it is
- superseded (an older version; `history` still shows it, `agentlib lib import` or a
  re-solve brings the code back), or
- active, never reused (times_reused == 0), and at least N tasks were added to the library
  after its first version, where N = max(min_tasks, ceil(fraction x T)) and T is the library's task count
  (distinct task ids over every record; refactor helpers and aliases do not count as tasks).
Never pruned: an active module that any active module depends on, directly or not.

A pruned module is no longer shown to the model, refactored or counted in the library's size,
but the agent still tries the nearest pruned modules for reuse: one that passes a new task's
tests is made active again (`Library.revive`).
"""

from __future__ import annotations

import math

from agentlib.model import Module
from agentlib.refactor.commit import recover
from agentlib.refactor.records import PruneDecision

MIN_TASKS = 5
FRACTION = 0.5


def _task_key(module: Module) -> str | None:
    if module.backend in ("refactor", "dedup"):
        return None
    return module.task_id or f"module:{module.name}"


def prune_threshold(records: list[Module], min_tasks: int = MIN_TASKS,
                    fraction: float = FRACTION) -> int:
    """Return N: how many later tasks a never-reused module may wait before it is pruned."""
    tasks = {k for k in map(_task_key, records) if k}
    return max(min_tasks, math.ceil(fraction * len(tasks)))


def tasks_since(module: Module, records: list[Module]) -> int:
    """Count the distinct tasks of records created after the first version of `module`.

    The first version counts, so a refactor's new version does not make a module young again.
    """
    born = min([r.created_at for r in records if r.name == module.name] + [module.created_at])
    return len({k for r in records if r.created_at > born
                and (k := _task_key(r)) and k != _task_key(module)})


def prune(library, *, min_tasks: int = MIN_TASKS, fraction: float = FRACTION,
          include_superseded: bool = True, dry_run: bool = False) -> list[PruneDecision]:
    """Prune what the rules above select; return a decision for every record considered.

    A decision's `pruned` says the record was selected; with `dry_run` nothing is written.
    """
    recover(library)
    records = library.list(status=None)
    threshold = prune_threshold(records, min_tasks, fraction)
    decisions: list[PruneDecision] = []
    superseded: dict[str, str] = {}
    for module in records:
        if module.status == "superseded" and include_superseded:
            superseded[module.id] = "pruned"
            decisions.append(PruneDecision(module.name, module.id, module.status, True,
                                           f"superseded by a newer version of {module.name}"))
    for module in records:
        if module.status != "active":
            continue
        later = tasks_since(module, records)
        users = library.dependents(module.name)
        if users:
            reason, chosen = f"kept: needed by {', '.join(users)}", False
        elif module.times_reused:
            reason, chosen = f"kept: reused {module.times_reused} time(s)", False
        elif later < threshold:
            reason, chosen = f"kept: {later} task(s) since it was stored, under {threshold}", False
        else:
            reason, chosen = (f"never reused in the {later} task(s) since it was stored "
                              f"(threshold {threshold})"), True
        if chosen and not dry_run:
            library.remove(module.name)  # refuses (StoreError) if a dependent appeared meanwhile
        decisions.append(PruneDecision(module.name, module.id, "active", chosen, reason))
    if superseded and not dry_run:
        library.set_statuses(superseded)
    return decisions
