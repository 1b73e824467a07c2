"""Run untrusted code against tests in an isolated child process; see `runner` for the policy."""

from agentlib.sandbox.runner import Isolation, Limits, detect_isolation, run

__all__ = ["Isolation", "Limits", "detect_isolation", "run"]
