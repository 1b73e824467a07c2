"""agentlib-pack-dates: a module pack of date and time helpers (standard library only).

Installed, it registers the pack ``agentlib-pack-dates`` through agentlib's
``register_module_packs`` hook; ``agentlib packs install agentlib-pack-dates`` verifies each
function against its tests in agentlib's sandbox and stores those that pass.
"""

from __future__ import annotations

import ast
from importlib import resources

from agentlib.plugins import hookimpl

PACK_NAME = "agentlib-pack-dates"


def load_entries() -> list[dict]:
    """Return one entry per function of `dates.py`: name, its own source, docstring, tests."""
    from agentlib_pack_dates.cases import TESTS

    text = resources.files(__package__).joinpath("dates.py").read_text(encoding="utf-8")
    entries = []
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef):
            entries.append({"name": node.name,
                            "source": ast.get_source_segment(text, node) + "\n",
                            "docstring": " ".join((ast.get_docstring(node) or "").split()),
                            "tests": list(TESTS[node.name])})
    return entries


@hookimpl
def register_module_packs(register):
    register(PACK_NAME, load_entries)
