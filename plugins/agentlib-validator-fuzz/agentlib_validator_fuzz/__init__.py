"""agentlib-validator-fuzz: reject candidates that crash, hang or only fit their test inputs.

Registers the validator ``fuzz`` through agentlib's ``register_validators`` hook. Hypothesis is
imported only when a candidate is validated, so loading the plugin costs nothing.
"""

from __future__ import annotations

from agentlib.plugins import hookimpl


def validate(source: str, entry_point: str, tests: list[str]) -> str | None:
    """Fuzz the candidate in the sandbox; return why it is rejected, or None to accept it."""
    from agentlib_validator_fuzz.fuzz import fuzz

    return fuzz(source, entry_point, tests)


@hookimpl
def register_validators(register):
    register("fuzz", validate)
