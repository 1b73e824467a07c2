"""The result of one check on a candidate that passed its tests: a rejection only with evidence.

`Check` itself is a plain record of `agentlib.model` (an `Attempt` keeps the checks it ran);
it is re-exported here, where validators find it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agentlib.model import Check

__all__ = ["Check", "as_check"]


def as_check(name: str, result: Any) -> Check:
    """Normalise what a validator returned (None, a reason string or a Check) into a Check.

    :raises TypeError: for anything else, so the caller can blame the validator.
    """
    if result is None:
        return Check(name)
    if isinstance(result, str):
        return Check(name, reject=result or None)
    if isinstance(result, Check):
        warnings = tuple(w for w in result.warnings if isinstance(w, str) and w)
        if result.reject is not None and not isinstance(result.reject, str):
            raise TypeError(f"Check.reject is {type(result.reject).__name__}, not str or None")
        return replace(result, name=result.name or name, reject=result.reject or None,
                       warnings=warnings)
    raise TypeError(f"returned {type(result).__name__}, not str, Check or None")
