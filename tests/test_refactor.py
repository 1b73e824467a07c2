"""Refactoring into shared helpers: clusters, a recorded real proposal (Qwen2.5-Coder-1.5B,
tests/record_refactor.py), verification that rejects a whole proposal, atomic commit."""

from __future__ import annotations

from pathlib import Path

import pytest
from record_refactor import RECORDING, build_date_library

from agentlib.errors import StoreError
from agentlib.llm.replay import ReplayLLM
from agentlib.refactor.cluster import find_clusters
from agentlib.refactor.commit import JOURNAL, Planned, _write_journal, commit, recover
from agentlib.refactor.propose import parse_proposal
from agentlib.refactor.run import refactor_library
from agentlib.refactor.verify import build_modules
from agentlib.sandbox import cases_from, run

DATES = ["quarter_of", "us_format", "year_of"]


@pytest.fixture
def dates(library):
    build_date_library(library)
    return library


def _snapshot(library):
    return sorted((m.id, m.name, m.status, m.version, tuple(m.tests))
                  for m in library.list(status=None))


def _passes_stored_tests(library, name):
    module = library.get(name)
    return run(library.program_for(module), cases_from(module.tests)).passed


class ScriptedLLM:
    """A fake model that always gives the same reply (the tests below are about verification,
    not about what a model proposes)."""

    name = "scripted"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.calls = 0

    def complete(self, messages, **options):
        from agentlib.llm import Completion

        self.calls += 1
        return Completion(self.reply)


def test_the_repeated_date_parsing_is_one_cluster(dates):
    clusters = find_clusters(dates)
    assert [c.names for c in clusters] == [DATES]
    assert "split('-')" in clusters[0].fragment


def test_recorded_proposal_gives_a_verified_helper(dates):
    report = refactor_library(dates, ReplayLLM(RECORDING), budget=2)
    assert report.helpers_created == ["parse_date"] and report.modules_touched == DATES
    helper = dates.get("parse_date")
    assert helper.task_id == "refactor:quarter_of+us_format+year_of"
    assert helper.backend == "refactor" and helper.model == "replay:refactor.json"
    # the helper's tests come from its calls on the rewritten modules' test inputs
    assert "assert parse_date('2024-03-15') == (2024, 3, 15)" in helper.tests
    assert "assert parse_date('1999-12-31') == (1999, 12, 31)" in helper.tests
    for name in DATES:
        module = dates.get(name)
        assert module.version == 2 and module.dependencies == ["parse_date"]
        assert "split" not in module.source
        assert _passes_stored_tests(dates, name)
        assert [m.status for m in dates.history(name)] == ["superseded", "active"]
    assert dates.get("word_count").version == 1
    assert _passes_stored_tests(dates, "parse_date")
    assert report.lines_after < report.lines_before
    assert report.tests_run == report.tests_passed == 6 + len(helper.tests)
    assert report.to_dict()["helpers_created"] == ["parse_date"]


def test_dry_run_verifies_and_writes_nothing(dates):
    before = _snapshot(dates)
    report = refactor_library(dates, ReplayLLM(RECORDING), dry_run=True)
    [outcome] = report.outcomes
    assert outcome.accepted and not outcome.committed
    assert outcome.proposal.helper_name == "parse_date"
    assert _snapshot(dates) == before
    assert report.lines_after < report.lines_before


BROKEN = '''```python
def parse_date(date):
    parts = date.split('-')
    return int(parts[0]), int(parts[1]), int(parts[2])

def quarter_of(date):
    year, month, day = parse_date(date)
    return (month - 1) // 3 + 1

def us_format(date):
    year, month, day = parse_date(date)
    return f'{day:02d}/{month:02d}/{year}'

def year_of(date):
    year, month, day = parse_date(date)
    return year
```'''


def test_a_proposal_that_breaks_one_test_is_rejected_whole(dates):
    before = _snapshot(dates)
    llm = ScriptedLLM(BROKEN)
    report = refactor_library(dates, llm)
    [outcome] = report.outcomes
    assert llm.calls == 1
    assert not outcome.accepted and not outcome.committed
    assert outcome.reason.startswith("rewritten us_format fails")
    assert "us_format" in [c.module for c in outcome.checks if c.failure]
    assert report.helpers_created == [] and report.modules_touched == []
    assert _snapshot(dates) == before
    assert dates.get("parse_date") is None


def test_a_failure_midway_through_a_commit_rolls_back(dates, monkeypatch):
    proposal = parse_proposal(BROKEN.replace("{day:02d}/{month:02d}", "{month:02d}/{day:02d}"),
                              [dates.get(n) for n in DATES], {m.name for m in dates.list()})
    helper, versions = build_modules(dates, [dates.get(n) for n in DATES], proposal, "test")
    before = _snapshot(dates)
    real_add = dates.add
    added = []

    def add_then_fail(module):
        if len(added) == 2:  # the helper and one new version are stored by now
            raise StoreError("disk full (simulated)")
        added.append(real_add(module))
        return added[-1]

    monkeypatch.setattr(dates, "add", add_then_fail)
    with pytest.raises(StoreError, match="simulated"):
        commit(dates, [helper, *versions])
    assert [m.name for m in added] == ["parse_date", "quarter_of"]
    assert _snapshot(dates) == before
    assert not (Path(dates.location) / JOURNAL).exists()
    assert dates.get("parse_date") is None and dates.get("quarter_of").version == 1
    found = {m.name: m.version for m, _ in dates.search("quarter of a date", k=4)}
    assert found["quarter_of"] == 1 and "parse_date" not in found
    assert _passes_stored_tests(dates, "quarter_of")


def test_a_commit_killed_midway_is_rolled_back_from_its_journal(dates):
    proposal = parse_proposal(BROKEN.replace("{day:02d}/{month:02d}", "{month:02d}/{day:02d}"),
                              [dates.get(n) for n in DATES], {m.name for m in dates.list()})
    helper, versions = build_modules(dates, [dates.get(n) for n in DATES], proposal, "test")
    before = _snapshot(dates)
    # what a process killed after its second add leaves: the journal and two records
    _write_journal(dates, [Planned(m.name, m.id, getattr(dates.get(m.name), "id", None), True)
                           for m in [helper, *versions]])
    dates.add(helper)
    dates.add(versions[0])
    assert dates.get("quarter_of").dependencies == ["parse_date"]
    assert recover(dates) and not recover(dates)
    assert _snapshot(dates) == before


def test_a_rewrite_that_breaks_a_dependent_is_rejected(dates):
    from record_refactor import make_module

    source = "def year_label(date):\n    return 'Y' + str(year_of(date))\n"
    dates.add(make_module("year_label", source, ["assert year_label('1985-02-01') == 'Y1985'"]))
    assert dates.get("year_label").dependencies == ["year_of"]
    # passes year_of's own tests (1999, 2024) but not the dependent's (1985)
    subtle = BROKEN.replace("{day:02d}/{month:02d}", "{month:02d}/{day:02d}").replace(
        "    return year\n", "    return year if year >= 1990 else 0\n")
    before = _snapshot(dates)
    [outcome] = refactor_library(dates, ScriptedLLM(subtle)).outcomes
    assert not outcome.accepted
    assert outcome.reason.startswith("year_label, which calls a rewritten module, fails")
    assert [c.role for c in outcome.checks] == ["rewrite", "rewrite", "rewrite", "dependent"]
    assert _snapshot(dates) == before


def test_cli_refactor_reports_in_json_and_table(dates, tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from agentlib.cli import app

    monkeypatch.setenv("AGENTLIB_LLM", "replay")
    monkeypatch.setenv("AGENTLIB_RECORDINGS", str(RECORDING))
    store = str(tmp_path / "store")
    before = _snapshot(dates)
    result = CliRunner().invoke(app, ["refactor", "--dry-run", "--json", "--library", store])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["dry_run"] and report["helpers_created"] == ["parse_date"]
    assert report["modules_touched"] == DATES
    assert report["tests_run"] == report["tests_passed"] > 6
    assert report["lines_after"] < report["lines_before"]
    assert _snapshot(dates) == before
    result = CliRunner().invoke(app, ["refactor", "--library", store])
    assert result.exit_code == 0, result.output
    assert "helpers created" in result.output and "parse_date" in result.output
    assert dates.get("parse_date") is not None  # the library object sees the other's write


def test_local_copies_of_library_modules_are_dropped_without_the_llm(library):
    from record_refactor import make_module

    library.add(make_module("is_leap", "def is_leap(y):\n    return y % 4 == 0 and "
                            "(y % 100 != 0 or y % 400 == 0)\n", ["assert is_leap(2000)"]))
    source = ("def year_days(y):\n    def is_leap(y):\n        return y % 4 == 0\n"
              "    return 366 if is_leap(y) else 365\n")
    library.add(make_module("year_days", source, ["assert year_days(2024) == 366",
                                                  "assert year_days(2023) == 365"]))
    llm = ScriptedLLM("never asked")
    report = refactor_library(library, llm)
    assert llm.calls == 0 and report.modules_touched == ["year_days"]
    module = library.get("year_days")
    assert "def is_leap" not in module.source and module.dependencies == ["is_leap"]
    assert _passes_stored_tests(library, "year_days")
    assert report.lines_before - report.lines_after == 2
    # a copy that behaves differently on a stored test stays
    source = "def century(y):\n    def is_leap(y):\n        return y % 4 == 0\n" \
             "    return is_leap(y)\n"
    library.add(make_module("century", source, ["assert century(1900) == True"]))
    [outcome] = refactor_library(library, llm).outcomes
    assert not outcome.accepted and outcome.reason.startswith("rewritten century fails")
    assert library.get("century").version == 1


def test_dead_nested_functions_and_unused_imports_are_dropped(library):
    from record_refactor import make_module

    source = ("import os\nimport math\n\ndef area(r):\n    def fib(n):\n"
              "        return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
              "    def square(x):\n        return x * x\n"
              "    return round(math.pi * square(r), 2)\n")
    library.add(make_module("area", source, ["assert area(1) == 3.14",
                                             "assert area(2) == 12.57"]))
    llm = ScriptedLLM("never asked")
    report = refactor_library(library, llm)
    assert llm.calls == 0 and report.modules_touched == ["area"]
    [outcome] = report.outcomes
    assert outcome.reason == "drops dead code: fib (unused), import os (unused)"
    module = library.get("area")
    assert "def fib" not in module.source and "import os" not in module.source
    assert "import math" in module.source and "def square" in module.source
    assert _passes_stored_tests(library, "area")
    assert report.lines_before - report.lines_after == 3


def test_a_helper_that_calls_a_module_it_replaces_is_rejected(dates):
    cyclic = BROKEN.replace("{day:02d}/{month:02d}", "{month:02d}/{day:02d}").replace(
        "    parts = date.split('-')\n    return", "    parts = date.split('-')\n"
        "    year_of(date)\n    return", 1)
    before = _snapshot(dates)
    [outcome] = refactor_library(dates, ScriptedLLM(cyclic)).outcomes
    assert not outcome.accepted and outcome.reason.startswith("invalid proposal: dependency cycle")
    assert _snapshot(dates) == before
