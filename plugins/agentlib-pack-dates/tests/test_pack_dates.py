"""The pack's entries: well-formed, and each passes its own tests in agentlib's sandbox."""

from __future__ import annotations

import ast

import pytest
from agentlib_pack_dates import PACK_NAME, load_entries

from agentlib.library.packs import entry_from
from agentlib.model import TestCase as Case
from agentlib.plugins import make_plugin_manager, module_packs
from agentlib.sandbox import run

ENTRIES = load_entries()


def test_pack_has_at_least_ten_functions_each_with_several_tests():
    assert len(ENTRIES) >= 10
    for entry in ENTRIES:
        assert len(entry["tests"]) >= 3, entry["name"]
        assert entry["docstring"], entry["name"]
        entry_from(entry, 0)  # raises on a malformed entry


def test_each_entry_is_self_contained_and_uses_the_standard_library_only():
    import sys

    for entry in ENTRIES:
        tree = ast.parse(entry["source"])
        assert [type(n) for n in tree.body] == [ast.FunctionDef], entry["name"]
        imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, (ast.Import, ast.ImportFrom))
                    for alias in (node.names if isinstance(node, ast.Import)
                                  else [ast.alias(node.module or "")])}
        assert imported <= set(sys.stdlib_module_names), (entry["name"], imported)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["name"] for e in ENTRIES])
def test_function_passes_its_tests_in_the_sandbox(entry):
    verdict = run(entry["source"], [Case(t) for t in entry["tests"]])
    assert verdict.passed, [(r.test, r.error_type, r.message) for r in verdict.failures]
    assert len(verdict.results) == len(entry["tests"])


def test_a_wrong_implementation_fails_the_shipped_tests():
    """The tests have teeth: an off-by-one business-day count is caught."""
    entry = next(e for e in ENTRIES if e["name"] == "business_days_between")
    wrong = entry["source"].replace("if (weekday + offset) % 7 < 5", "if (weekday + offset) % 7 < 6")
    assert wrong != entry["source"]
    assert not run(wrong, [Case(t) for t in entry["tests"]]).passed


def test_the_installed_entry_point_registers_the_pack(monkeypatch):
    monkeypatch.setenv("AGENTLIB_PLUGINS", "pack-dates")
    pm = make_plugin_manager()
    assert pm.records["pack-dates"].status == "loaded"
    assert [e["name"] for e in module_packs(pm)[PACK_NAME]()] == [e["name"] for e in ENTRIES]
