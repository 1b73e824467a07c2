"""agentlib-validator-fuzz: reject a candidate that works on its test inputs and nothing else.

Registers the validator ``fuzz`` through agentlib's ``register_validators`` hook. It returns
an `agentlib.verify.Check`: a rejection only with evidence, warnings otherwise. The work is
imported only when a candidate is validated, so loading the plugin costs nothing.
"""

from __future__ import annotations

from agentlib.plugins import hookimpl


def validate(source: str, entry_point: str, tests: list[str]):
    """Call the candidate on in-domain inputs in the sandbox; return a Check."""
    from agentlib_validator_fuzz.fuzz import fuzz

    return fuzz(source, entry_point, tests)


@hookimpl
def register_validators(register):
    register("fuzz", validate)
