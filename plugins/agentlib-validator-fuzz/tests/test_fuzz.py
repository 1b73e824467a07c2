"""The fuzz validator's verdicts, each through the real sandbox: it rejects only a candidate
that works on its literal test inputs and on nothing like them; everything else is a warning
at most (ragged inputs never generated, a rarely true predicate, a slow huge input)."""

from __future__ import annotations

import pytest
from agentlib_validator_fuzz.fuzz import FuzzSettings, expected_families, family, fuzz

from agentlib.plugins import checks, make_plugin_manager, validators
from agentlib.verify import Check

SQUARE = ["assert square(2) == 4", "assert square(3) == 9", "assert square(-1) == 1",
          "assert square(12) == 144"]
QUICK = FuzzSettings(timeout_s=0.3, confirm=2, confirm_timeout_s=1.0)


def verdict(source: str, entry: str, tests: list[str], config: FuzzSettings = QUICK) -> Check:
    check = fuzz(source, entry, tests, config)
    assert isinstance(check, Check) and check.name == "fuzz"
    return check


def test_value_families_treat_bool_and_int_alike():
    assert family("bool") == family("int") == family("float") == "number"
    assert expected_families([True, 3, "x", None]) == {"number", "text", "None"}


# --- rejections: evidence that the candidate only works on its test inputs

def test_a_lookup_table_that_raises_off_the_test_inputs_is_rejected():
    check = verdict("def square(x):\n    return {2: 4, 3: 9, -1: 1, 12: 144}[x]\n", "square",
                    SQUARE)
    assert check.rejected and "raises KeyError on square(" in check.reject
    assert "only works on the literal test inputs" in check.reject


def test_branches_that_fall_through_to_none_are_rejected():
    source = ("def square(x):\n    if x == 2:\n        return 4\n    if x == 3:\n        return 9\n"
              "    if x == -1:\n        return 1\n    if x == 12:\n        return 144\n")
    check = verdict(source, "square", SQUARE)
    assert check.rejected and "returns NoneType where its tests expect number" in check.reject


def test_a_candidate_that_hangs_on_every_other_input_is_rejected_after_confirming():
    source = ("def square(x):\n    if x in (2, 3, -1, 12):\n        return x * x\n"
              "    while True:\n        pass\n")
    check = verdict(source, "square", SQUARE)
    assert check.rejected and "hangs on square(" in check.reject


# --- no rejection without evidence

def test_an_honest_candidate_is_accepted_without_warnings():
    assert verdict("def square(x):\n    return x * x\n", "square", SQUARE) == Check("fuzz")


def test_index_based_transpose_is_accepted_because_ragged_input_is_never_generated():
    # Raises IndexError on a ragged matrix: the old validator rejected it for that.
    source = ("def transpose(m):\n    return [[m[i][j] for i in range(len(m))] "
              "for j in range(len(m[0]))]\n")
    tests = ["assert transpose([[1, 2, 3], [4, 5, 6]]) == [[1, 4], [2, 5], [3, 6]]",
             "assert transpose([[1, 2], [3, 4]]) == [[1, 3], [2, 4]]",
             "assert transpose([[7]]) == [[7]]"]
    assert verdict(source, "transpose", tests) == Check("fuzz")


def test_a_correct_matrix_product_is_accepted():
    source = ("def mat_mul(a, b):\n    return [[sum(a[i][k] * b[k][j] for k in range(len(b))) "
              "for j in range(len(b[0]))] for i in range(len(a))]\n")
    tests = ["assert mat_mul([[1, 2], [3, 4]], [[5, 6], [7, 8]]) == [[19, 22], [43, 50]]",
             "assert mat_mul([[1, 0, 2]], [[1], [2], [3]]) == [[7]]"]
    assert verdict(source, "mat_mul", tests) == Check("fuzz")


def test_a_rarely_true_predicate_gets_a_warning_not_a_rejection():
    source = "def is_perfect(n):\n    return n > 1 and sum(d for d in range(1, n) if n % d == 0) == n\n"
    tests = ["assert is_perfect(6) == True", "assert is_perfect(28) == True",
             "assert is_perfect(12) == False", "assert is_perfect(496) == True"]
    check = verdict(source, "is_perfect", tests)
    assert not check.rejected
    assert len(check.warnings) == 1 and "returns False for all" in check.warnings[0]


def test_a_function_slow_on_huge_inputs_is_accepted_at_the_sizes_its_tests_use():
    # O(n^2): minutes for n = 10**6, milliseconds at the tests' sizes (generated ones too).
    source = ("def count_primes(n):\n    return sum(all(k % d for d in range(2, k)) "
              "for k in range(2, n + 1))\n")
    tests = ["assert count_primes(10) == 4", "assert count_primes(100) == 25",
             "assert count_primes(300) == 62"]
    assert verdict(source, "count_primes", tests, FuzzSettings()) == Check("fuzz")


def test_negative_inputs_are_never_generated_for_non_negative_tests():
    source = "def factorial(n):\n    return 1 if n == 0 else n * factorial(n - 1)\n"
    tests = ["assert factorial(0) == 1", "assert factorial(5) == 120", "assert factorial(10) == 3628800"]
    assert verdict(source, "factorial", tests) == Check("fuzz")


def test_exceptions_on_some_inputs_are_a_warning():
    source = ("import datetime\n\ndef day_of_year(year, month, day):\n"
              "    return datetime.date(year, month, day).timetuple().tm_yday\n")
    tests = ["assert day_of_year(2023, 1, 1) == 1", "assert day_of_year(2023, 3, 1) == 60",
             "assert day_of_year(2024, 3, 1) == 61", "assert day_of_year(2024, 12, 31) == 366"]
    check = verdict(source, "day_of_year", tests)
    assert not check.rejected and check.warnings
    assert check.warnings[0].startswith("raises ValueError on ")


def test_a_closed_vocabulary_that_raises_on_every_changed_name_is_not_rejected():
    source = ("DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', "
              "'Sunday']\n\ndef weekday_index(name):\n    return DAYS.index(name)\n")
    tests = ['assert weekday_index("Monday") == 0', 'assert weekday_index("Sunday") == 6',
             'assert weekday_index("Wednesday") == 2']
    check = verdict(source, "weekday_index", tests)
    assert not check.rejected and "raises ValueError on 40 of 40" in check.warnings[0]


def test_the_candidate_runs_in_the_sandbox_never_in_this_process():
    # Here `agentlib` and `pytest` are imported, in the sandbox they are not: run here, this
    # candidate would raise on every input and be rejected.
    source = ("import sys\n\ndef square(x):\n    if 'agentlib' in sys.modules or "
              "'pytest' in sys.modules:\n        raise KeyError('ran in the agentlib process')\n"
              "    return x * x\n")
    assert verdict(source, "square", SQUARE) == Check("fuzz")


def test_without_literal_calls_there_is_nothing_to_judge():
    assert verdict("def f(x):\n    return 1\n", "f", ["assert f(g()) == 1"]) == Check("fuzz")


@pytest.mark.parametrize("name", ["parse_date", "business_days_between", "add_months",
                                  "days_between", "iso_week"])
def test_the_dates_pack_is_not_rejected(name):
    pack_dates = pytest.importorskip("agentlib_pack_dates")
    entry = next(e for e in pack_dates.load_entries() if e["name"] == name)
    assert not verdict(entry["source"], entry["name"], entry["tests"]).rejected


def test_the_entry_point_registers_the_validator_with_warnings_kept(monkeypatch):
    monkeypatch.setenv("AGENTLIB_PLUGINS", "validator-fuzz")
    pm = make_plugin_manager()
    assert pm.records["validator-fuzz"].status == "loaded"
    assert validators(pm)["fuzz"]("def square(x):\n    return x * x\n", "square", SQUARE) is None
    assert validators(pm)["fuzz"]("def square(x):\n    return {2: 4, 3: 9, -1: 1, 12: 144}[x]\n",
                                  "square", SQUARE) is not None
    perfect = checks(pm)["fuzz"]("def is_perfect(n):\n    return n == 6 or n == 28\n",
                                 "is_perfect", ["assert is_perfect(6) == True",
                                                "assert is_perfect(28) == True",
                                                "assert is_perfect(12) == False"])
    assert not perfect.rejected and perfect.warnings
