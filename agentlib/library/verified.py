"""Rewriting how a stored module was verified (`agentlib lib confirm`, given tests it passed).

A function beside `Library` rather than a method of it while `store.py` is at its size limit;
it takes the library's write lock and rewrites only those fields of the record
(`persist.write_fields`; the vector does not change: tests are not part of the embedded text).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentlib.errors import StoreError
from agentlib.library.persist import write_fields
from agentlib.model import Module


def set_verification(library: Any, module_id: str, verification: dict[str, Any],
                     tests: Sequence[str] = ()) -> Module:
    """Replace a module's verification record and add `tests` (ones it passes); return it."""
    with library.write_transaction():
        module = library.get_by_id(module_id)
        if module is None:
            raise StoreError(f"no module with id {module_id!r} in {library.location}; "
                             "see `agentlib lib list`")
        module.tests = list(dict.fromkeys([*module.tests, *tests]))
        module.verification = dict(verification)
        write_fields(library, [module], ["tests", "verification"])
        return module
