"""Every check the agent applies to a candidate that passed its tests, in one place."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from agentlib.model import TestCase
from agentlib.sandbox.static import special_case_report
from agentlib.verify.check import Check

SPECIAL_CASES = "special-cases"
PluginChecks = Callable[[str, str, list[str]], list[Check]]
"""(program, entry point, test sources) -> one Check per plugin validator."""


def special_case_check(candidate: str, tests: Sequence[TestCase], prompt: str = "") -> Check:
    """The static check for literal special-casing of the tests, as a Check."""
    report = special_case_report(candidate, list(tests), prompt)
    return Check(SPECIAL_CASES, reject=report.reason, warnings=report.warnings)


def candidate_checks(candidate: str, program: str, entry_point: str,
                     tests: Sequence[TestCase], plugin_checks: PluginChecks | None = None,
                     prompt: str = "") -> list[Check]:
    """Run the static check on `candidate` and the plugins' validators on `program`.

    :param candidate: the function's own source (what the model wrote).
    :param program: the self-contained program the tests ran (candidate plus dependencies).
    :param plugin_checks: e.g. ``lambda p, e, t: run_checks(pm, p, e, t)``; None: no plugins.
    :param prompt: the task's description (inputs it names are the spec, not special cases).
    """
    found = [special_case_check(candidate, tests, prompt)]
    if plugin_checks is not None:
        found += plugin_checks(program, entry_point, [t.source for t in tests])
    return found
