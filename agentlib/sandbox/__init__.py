"""Run untrusted code against tests in an isolated child process; see `runner` for the policy."""

from agentlib.sandbox.cases import assert_case, cases_from, doctest_cases, pair_case, pair_cases
from agentlib.sandbox.isolation import Bound, Isolation, detect_isolation
from agentlib.sandbox.runner import Limits, SandboxWarning, run
from agentlib.sandbox.static import special_cases_tests

__all__ = ["Bound", "Isolation", "Limits", "SandboxWarning", "assert_case", "cases_from",
           "detect_isolation", "doctest_cases", "pair_case", "pair_cases", "run",
           "special_cases_tests"]
