"""Verification beyond the tests: checks that reject only with evidence, in-domain inputs,
comparison with an independent implementation, and the record of how a module was verified.

Everything that runs a candidate goes through `agentlib.sandbox.run`; this package only
builds data and reads results. Only `Check` is imported eagerly (the plugin manager uses it);
the rest loads on first use.
"""

from importlib import import_module

from agentlib.verify.check import Check, as_check

_LAZY = {"Counterexample": "evidence", "Evidence": "evidence",
         "compare_with_reference": "evidence", "generated_calls": "evidence",
         "Domain": "domain",
         "generate_inputs": "domain", "Invariant": "domain", "Observed": "observe",
         "observe": "observe", "Outcome": "probe", "Verification": "record",
         "tests_are_weak": "record", "verification": "record", "candidate_checks": "checks"}

__all__ = ["Check", "as_check", *sorted(_LAZY)]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f"agentlib.verify.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'agentlib.verify' has no attribute {name!r}")
