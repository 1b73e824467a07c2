"""Call the library instead of a local copy: drop definitions that shadow active modules.

Small models often paste a library function inside the new one (`def is_leap_year` nested
in `day_of_year`) instead of calling the stored module. Such a copy is removed — the name
then resolves to the library module — when the module and every module depending on it
still pass all their stored tests with the library's version. Dead code goes the same way:
nested functions the function never uses and imports nothing uses. No LLM is involved.
"""

from __future__ import annotations

from agentlib.code import dependencies, docstring, drop_shadowing, module_id, signature
from agentlib.model import Module
from agentlib.refactor.commit import commit
from agentlib.refactor.programs import source_lines
from agentlib.refactor.records import Cluster, ClusterOutcome, Proposal
from agentlib.refactor.verify import check_rewrites
from agentlib.sandbox import Limits


def unshadow(library, *, dry_run: bool = False,
             limits: Limits | None = None) -> list[ClusterOutcome]:
    """Drop verified local copies, one module at a time (each checked against the library as
    the previous ones left it); return an outcome per module that had copies."""
    names = {m.name for m in library.list()}
    found: list[ClusterOutcome] = []
    for module in library.list():
        try:
            source, dropped = drop_shadowing(module.source, module.name, names)
        except SyntaxError:
            continue
        if not dropped:
            continue
        version = Module(
            id=module_id(source), name=module.name, source=source,
            signature=signature(source, module.name),
            docstring=docstring(source, module.name) or module.docstring, tests=list(module.tests),
            dependencies=dependencies(source, names - {module.name}),
            task_prompt=module.task_prompt, task_id=module.task_id, backend="refactor",
            model="unshadow", times_retrieved=module.times_retrieved,
            times_reused=module.times_reused, times_failed=module.times_failed)
        checks, failure, _ = check_rewrites(library, [version], {version.name: version}, limits)
        copies = [d for d in dropped if " " not in d]
        dead = [d for d in dropped if " " in d]
        reason = "; ".join(
            ([f"calls the library's {', '.join(copies)} instead of local copies"] if copies else [])
            + ([f"drops dead code: {', '.join(dead)}"] if dead else []))
        outcome = ClusterOutcome(
            Cluster([module.name], "\n".join([f"def {d}(...)  # local copy" for d in copies]
                                             + [f"# dead: {d}" for d in dead]), 0),
            accepted=not failure, reason=failure or reason,
            proposal=Proposal(helper_name="", helper_source="", rewrites={module.name: source}),
            checks=checks, lines_before=source_lines(module.source),
            lines_after=source_lines(source))
        if outcome.accepted and not dry_run:
            commit(library, [version])
            outcome.committed = True
        found.append(outcome)
    return found
