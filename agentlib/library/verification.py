"""Replace how a stored module was verified, through the library's write path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentlib.errors import StoreError
from agentlib.model import Module

if TYPE_CHECKING:
    from agentlib.library.store import Library


def set_verification(library: "Library", module_id: str, record: dict[str, Any]) -> Module:
    """Store `record` (a `Verification.to_dict()`) as the verification of module `module_id`,
    in one write; return the module as stored."""
    with library.write_transaction():
        module = library.get_by_id(module_id)
        if module is None:
            raise StoreError(f"no module with id {module_id!r} in {library.location}")
        module.verification = dict(record)
        library._update([module])
        return module
