"""`refactor_library`: clusters -> LLM proposal -> sandbox verification -> atomic commit."""

from __future__ import annotations

from agentlib.errors import StoreError
from agentlib.llm import LLM
from agentlib.refactor.cluster import find_clusters
from agentlib.refactor.commit import commit, recover
from agentlib.refactor.programs import library_lines
from agentlib.refactor.propose import ProposalError, propose
from agentlib.refactor.records import ClusterOutcome, RefactorReport
from agentlib.refactor.unshadow import unshadow
from agentlib.refactor.verify import verify
from agentlib.sandbox import Limits


def refactor_library(library, llm: LLM, *, budget: int = 3, dry_run: bool = False,
                     limits: Limits | None = None) -> RefactorReport:
    """Try to extract a shared helper from up to `budget` clusters; keep only verified ones.

    First, without the LLM, modules that carry local copies of library modules are made to
    call the library instead (`unshadow`), when all affected stored tests still pass.

    Each cluster costs one LLM call. A proposal the model gets wrong (no helper, a failing
    test, growing code) is recorded in the report and skipped; nothing of it is written.
    With `dry_run` every proposal is verified but none is stored.
    """
    recover(library)
    report = RefactorReport(dry_run=dry_run)
    active = library.list()
    report.lines_before = library_lines(active)
    report.outcomes += unshadow(library, dry_run=dry_run, limits=limits)
    active = library.list()
    for cluster in find_clusters(library, active)[:max(budget, 0)]:
        originals = [library.get(name) for name in cluster.names]
        if any(m is None for m in originals):  # changed by an earlier commit of this run
            continue
        names = {m.name for m in library.list()}
        report.llm_calls += 1
        try:
            proposal = propose(llm, cluster, originals, names)
        except ProposalError as exc:
            report.outcomes.append(ClusterOutcome(cluster, False, f"unusable reply: {exc}"))
            continue
        try:
            checked = verify(library, originals, proposal, provenance=llm.name, limits=limits)
        except StoreError as exc:  # e.g. the helper calls a module it replaces: a cycle
            report.outcomes.append(ClusterOutcome(cluster, False, f"invalid proposal: {exc}",
                                                  proposal))
            continue
        outcome = ClusterOutcome(cluster, checked.accepted, checked.reason, proposal,
                                 checked.checks, checked.helper_tests, checked.lines_before,
                                 checked.lines_after)
        if checked.accepted and not dry_run:
            try:
                commit(library, [checked.helper, *checked.versions])
                outcome.committed = True
            except StoreError as exc:  # refused and rolled back: the library is as it was
                outcome.accepted, outcome.reason = False, f"not stored: {exc}"
        report.outcomes.append(outcome)
    after = library.list()
    report.lines_after = library_lines(after)
    if dry_run:
        report.lines_after -= sum(o.lines_before - o.lines_after for o in report.outcomes
                                  if o.accepted)
    return report
