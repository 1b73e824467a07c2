"""Reusing a module that is `unconfirmed`: say so, or promote it when a person's tests pass.

A module stored from tests the model proposed is unconfirmed (`agentlib.verify.record`). When
a later task reuses it under its own name with tests a person wrote (given, or read from the
task's text) and they all pass, those tests are added to it and it is confirmed, as
`agentlib lib confirm NAME --test …` would; any other reuse of an unconfirmed module says in
the trace and in the result's warnings that it is unconfirmed, and why.
"""

from __future__ import annotations

from typing import Any

from agentlib.model import Module, Task


def reuse_notice(library: Any, module: Module, task: Task, own: bool
                 ) -> tuple[list[str], list[str]]:
    """The trace notes and result warnings of reusing `module` for `task` (which it passed);
    promote it first when `own` (reused under its name) and the task's tests are a person's."""
    record = module.verification
    if record.get("status") != "unconfirmed":
        return [], []
    given = [t.source for t in task.tests if t.origin != "proposed"]
    if own and record.get("proposed") and len(given) == len(task.tests):
        from agentlib.library.verified import set_verification
        from agentlib.verify.record import confirmed

        by = f"given tests of task {task.id}" if task.id else "given tests"
        set_verification(library, module.id, confirmed(record, given, by).to_dict(), given)
        return [f"{module.name} was unconfirmed (its tests were proposed by the model); this "
                f"task's {len(given)} test(s) pass, so they are added and it is confirmed"], []
    why = "; ".join(record.get("warnings") or []) or "see `agentlib lib show`"
    return [f"{module.name} is unconfirmed: {why}"], [f"reused {module.name}, which is "
                                                       f"unconfirmed: {why}"]
