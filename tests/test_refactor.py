"""Refactoring into shared helpers: clusters, a recorded real proposal (Qwen2.5-Coder-1.5B,
tests/record_refactor.py), verification that rejects a whole proposal, atomic commit."""

from __future__ import annotations

import pytest

from agentlib.errors import StoreError
from agentlib.llm.replay import ReplayLLM
from agentlib.refactor.cluster import find_clusters
from agentlib.refactor.commit import commit
from agentlib.refactor.run import refactor_library
from agentlib.refactor.verify import build_modules
from agentlib.refactor.propose import parse_proposal
from agentlib.sandbox import cases_from, run
from record_refactor import RECORDING, build_date_library

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
    assert dates.get("parse_date") is None and dates.get("quarter_of").version == 1
    found = {m.name: m.version for m, _ in dates.search("quarter of a date", k=4)}
    assert found["quarter_of"] == 1 and "parse_date" not in found
    assert _passes_stored_tests(dates, "quarter_of")


def test_a_rewrite_that_breaks_a_dependent_is_rejected(dates):
    from record_refactor import make_module

    source = ("def quarter_label(date):\n    return 'Q' + str(quarter_of(date)) + '-' + "
              "str(year_of(date))\n")
    dates.add(make_module("quarter_label", source, ["assert quarter_label('2024-03-15') == 'Q1-2024'"]))
    wrong = BROKEN.replace("{day:02d}/{month:02d}", "{month:02d}/{day:02d}").replace(
        "    return year\n", "    return str(year)\n")
    before = _snapshot(dates)
    [outcome] = refactor_library(dates, ScriptedLLM(wrong)).outcomes
    # year_of's own test compares with ==, so '2024' != 2024 fails there first
    assert not outcome.accepted and "year_of" in outcome.reason
    assert _snapshot(dates) == before
