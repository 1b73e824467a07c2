"""The fuzz validator against honest and test-fitting candidates; candidates run in the sandbox."""

from __future__ import annotations

import pytest
from agentlib_validator_fuzz.fuzz import FuzzSettings, allowed_types, fuzz, generate_inputs, observe

from agentlib.plugins import make_plugin_manager, validators

SQUARE_TESTS = ["assert square(2) == 4", "assert square(3) == 9", "assert square(-1) == 1"]


def test_observe_reads_literal_arguments_keywords_and_expected_results():
    seen = observe(['assert pad("ab", width=4) == "ab  "', 'assert pad("x", width=2) == "x "',
                    "assert pad(name, width=3)"], "pad")
    assert seen.slots == [["ab", "x"], [4, 2]] and seen.keywords == ("width",)
    assert seen.expected == ["ab  ", "x "]
    assert allowed_types(seen.expected) == ("str",)
    assert allowed_types([4, 2.5]) == ("float", "int") and allowed_types([]) == ()


def test_generated_inputs_have_the_tested_types_and_exclude_the_literal_inputs():
    seen = observe(SQUARE_TESTS + ['assert first([3, 1]) == 3'], "square")
    inputs = generate_inputs(seen, 20)
    assert 10 <= len(inputs) <= 20
    assert all(len(v) == 1 and type(v[0]) is int for v in inputs)
    assert not {2, 3, -1} & {v[0] for v in inputs}
    lists = generate_inputs(observe(["assert first([3, 1]) == 3", "assert first([5]) == 5"],
                                    "first"), 20)
    assert all(type(v[0]) is list and v[0] and all(type(i) is int for i in v[0])
               for v in lists)  # never empty: the tests' lists never are


def test_an_honest_candidate_is_accepted():
    assert fuzz("def square(x):\n    return x * x\n", "square", SQUARE_TESTS) is None


def test_domain_errors_are_accepted_even_as_subclasses():
    source = ("import calendar\n\ndef days_in_month(year, month):\n"
              "    return calendar.monthrange(year, month)[1]\n")  # IllegalMonthError
    tests = ["assert days_in_month(2024, 2) == 29", "assert days_in_month(2023, 12) == 31"]
    assert fuzz(source, "days_in_month", tests) is None


def test_a_lookup_table_of_the_test_inputs_is_rejected_for_its_exception():
    reason = fuzz("def square(x):\n    return {2: 4, 3: 9, -1: 1}[x]\n", "square", SQUARE_TESTS)
    assert reason is not None and reason.startswith("raises KeyError on square(")


def test_branches_on_the_literal_inputs_are_rejected_for_returning_none():
    source = ("def square(x):\n    if x == 2:\n        return 4\n    if x == 3:\n"
              "        return 9\n    if x == -1:\n        return 1\n")
    reason = fuzz(source, "square", SQUARE_TESTS)
    assert reason is not None and "only works on the literal test inputs" in reason
    assert "not of the type" in reason


def test_a_constant_fallback_is_rejected():
    reason = fuzz("def square(x):\n    return {2: 4, 3: 9, -1: 1}.get(x, 0)\n", "square",
                  SQUARE_TESTS)
    assert reason is not None and "one and the same value" in reason


def test_a_constant_function_whose_tests_expect_one_value_is_accepted():
    tests = ["assert answer(1) == 42", "assert answer(7) == 42"]
    assert fuzz("def answer(x):\n    return 42\n", "answer", tests) is None


def test_a_candidate_that_hangs_off_the_test_inputs_is_rejected_quickly():
    source = ("def square(x):\n    if x in (2, 3, -1):\n        return x * x\n"
              "    while True:\n        pass\n")
    quick = FuzzSettings(timeout_s=1.0, probe_timeout_s=0.5, culprit_probes=2)
    reason = fuzz(source, "square", SQUARE_TESTS, quick)
    assert reason is not None and reason.startswith("hangs on square(")


def test_the_candidate_runs_in_the_sandbox_never_in_this_process():
    # In this process `agentlib` and `pytest` are imported; in the sandbox they are not, so a
    # candidate that raises KeyError when it sees them would be rejected if run here.
    source = ("import sys\n\ndef square(x):\n    if 'agentlib' in sys.modules or "
              "'pytest' in sys.modules:\n        raise KeyError('ran in the agentlib process')\n"
              "    return x * x\n")
    assert fuzz(source, "square", SQUARE_TESTS) is None


def test_without_literal_calls_there_is_nothing_to_fuzz():
    assert fuzz("def f(x):\n    return 1\n", "f", ["assert f(g()) == 1"]) is None


@pytest.mark.parametrize("name", ["parse_date", "business_days_between", "add_months"])
def test_the_dates_pack_survives_fuzzing(name):
    pack_dates = pytest.importorskip("agentlib_pack_dates")
    entry = next(e for e in pack_dates.load_entries() if e["name"] == name)
    assert fuzz(entry["source"], entry["name"], entry["tests"]) is None


def test_the_entry_point_registers_the_validator(monkeypatch):
    monkeypatch.setenv("AGENTLIB_PLUGINS", "validator-fuzz")
    pm = make_plugin_manager()
    assert pm.records["validator-fuzz"].status == "loaded"
    validate = validators(pm)["fuzz"]
    assert validate("def square(x):\n    return x * x\n", "square", SQUARE_TESTS) is None
    assert validate("def square(x):\n    return {2: 4, 3: 9, -1: 1}[x]\n", "square",
                    SQUARE_TESTS) is not None
