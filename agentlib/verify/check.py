"""The result of one check on a candidate that passed its tests: a rejection only with evidence."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Check:
    """What one check concluded about a candidate that already passed its tests.

    ``reject`` is set only when the check has evidence that the candidate is wrong or
    special-cases its tests; it is shown to the model as feedback. Anything the check is unsure
    about goes into ``warnings``: recorded in the trace and on the module, never a rejection.
    """

    name: str
    reject: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def rejected(self) -> bool:
        return self.reject is not None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reject": self.reject, "warnings": list(self.warnings)}


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
