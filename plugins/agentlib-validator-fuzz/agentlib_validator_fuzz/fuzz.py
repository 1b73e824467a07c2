"""Call a candidate on inputs in its tests' domain; reject it only when it works on nothing else.

1. The tests are parsed (trusted text) and agentlib's one generator,
   `agentlib.verify.domain`, builds inputs like the tests' own: same shapes, invariants and
   magnitudes (a rectangular matrix stays rectangular, a sorted list sorted, `n == len(xs)`
   holds, numbers stay within the tests' range). Only data is built in this process.
2. One sandbox run calls the candidate on every input (`agentlib.verify.probe`); the
   candidate never runs in agentlib's process.
3. The verdict rests on evidence only. The candidate is rejected when it fails on *every*
   generated input (it raises, returns a kind of value its tests never expect — ``None``
   where they expect numbers — or, confirmed at the sandbox's full time limit, hangs) although
   it passed every test, and at least `min_inputs` of those inputs keep the tests' own strings
   (numbers and list shapes varied; a changed string may have left a closed vocabulary such
   as day names): it works on the literal test inputs and on nothing like them.
   Anything less is a warning: an exception on some inputs (they may lie outside the real
   domain), a slow input, one result for every input (right for `is_perfect` on random
   numbers).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from agentlib.sandbox import Limits
from agentlib.verify import Check
from agentlib.verify.domain import Domain
from agentlib.verify.observe import observe
from agentlib.verify.probe import Outcome, calls_for, outcomes

NAME = "fuzz"
_FAMILIES = {"bool": "number", "int": "number", "float": "number", "complex": "number",
             "str": "text", "bytes": "bytes", "list": "sequence", "tuple": "sequence",
             "dict": "mapping", "set": "set", "frozenset": "set", "NoneType": "None"}


@dataclass(frozen=True)
class FuzzSettings:
    """How hard to fuzz; a good candidate costs one sandbox run of well under a second."""

    examples: int = 40
    timeout_s: float = 0.5
    """Wall and CPU seconds per generated input in the first pass."""
    confirm: int = 2
    """Inputs that ran out of time, re-run at the full limit before a hang counts."""
    confirm_timeout_s: float = Limits().timeout_s
    """The full limit: the sandbox's default per-test time, the one tasks run under."""
    min_inputs: int = 5
    """Fewer generated inputs than this: no verdict either way."""


def family(type_name: str) -> str:
    """The kind of value a type name stands for (`int` and `bool` are both numbers)."""
    return _FAMILIES.get(type_name, type_name)


def expected_families(expected: list) -> set[str]:
    """The kinds of value the tests' literal results are; empty when they show none."""
    return {family(type(v).__name__) for v in expected}


def _failed(outcome: Outcome, allowed: set[str]) -> bool:
    if outcome.kind in ("raised", "timeout"):
        return True
    return outcome.kind == "value" and bool(allowed) and family(outcome.type) not in allowed


def fuzz(source: str, entry_point: str, tests: list[str],
         config: FuzzSettings = FuzzSettings()) -> Check:
    """Check the candidate on generated in-domain inputs; reject only on total failure."""
    seen = observe(tests, entry_point)
    domain = Domain(seen)
    found = calls_for(entry_point, domain.generate(config.examples), seen.keywords)
    calls = [c for _, c in found]
    dense = sum(not domain.text_changed(values) for values, _ in found)
    if len(calls) < config.min_inputs:
        return Check(NAME)  # too little to go on: the tests hardly vary their inputs
    results = outcomes(source, calls, config.timeout_s)
    allowed = expected_families(seen.expected)
    hung = [i for i, o in enumerate(results) if o.kind == "timeout"]
    if all(_failed(o, allowed) for o in results) and hung and dense >= config.min_inputs:
        again = outcomes(source, [calls[i] for i in hung[:config.confirm]],
                         config.confirm_timeout_s)
        for i, outcome in zip(hung, again, strict=False):
            results[i] = outcome if outcome.kind != "timeout" else Outcome(
                "timeout", outcome.type, f"{config.confirm_timeout_s:g}")
    if all(_failed(o, allowed) for o in results) and dense >= config.min_inputs:
        return Check(NAME, reject=_total_failure(calls, results, allowed))
    return Check(NAME, warnings=tuple(_warnings(calls, results, allowed, seen.expected, config)))


def _describe(outcome: Outcome, allowed: set[str]) -> str:
    if outcome.kind == "timeout":
        return "hangs" if outcome.text else "runs out of time"
    if outcome.kind == "raised":
        return f"raises {outcome.type}"
    return f"returns {outcome.type} where its tests expect {' or '.join(sorted(allowed))}"


def _total_failure(calls: list[str], results: list[Outcome], allowed: set[str]) -> str:
    kinds = Counter(_describe(o, allowed) for o in results)
    first = {}
    for call, outcome in zip(calls, results, strict=True):
        first.setdefault(_describe(outcome, allowed), call)
    shown = "; ".join(f"{what} on {first[what]} ({n})" for what, n in kinds.most_common(3))
    return (f"it passes its tests but fails on every one of {len(calls)} inputs shaped like "
            f"theirs ({shown}): it only works on the literal test inputs")


def _warnings(calls: list[str], results: list[Outcome], allowed: set[str], expected: list,
              config: FuzzSettings) -> list[str]:
    found = []
    total = len(calls)
    groups: dict[str, list[str]] = {}
    for call, outcome in zip(calls, results, strict=True):
        if _failed(outcome, allowed):
            groups.setdefault(_describe(outcome, allowed), []).append(call)
    for what, where in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        if what == "runs out of time":
            what = f"has no result within {config.timeout_s:g} s"
        found.append(f"{what} on {len(where)} of {total} inputs in the tests' domain, e.g. "
                     f"{where[0]} (may be outside the real domain)")
    values = {o.text for o in results if o.kind == "value" and o.complete}
    returned = sum(o.kind == "value" for o in results)
    if len(values) == 1 and returned >= config.min_inputs and len(
            {repr(v) for v in expected}) > 1:
        found.append(f"returns {next(iter(values))[:60]} for all {returned} inputs that gave a "
                     "result, although its tests expect different ones (right for a rarely "
                     "true predicate, suspicious otherwise)")
    return found
