"""Test kinds beyond a single assert: (args, expected) pairs and doctest examples, each judged
in the trusted harness and reported separately with its own time budget."""

from __future__ import annotations

import textwrap

import pytest

from agentlib.errors import TaskFormatError
from agentlib.model import TestCase as Case
from agentlib.sandbox import Limits, cases_from, doctest_cases, pair_case, pair_cases, run

FAST = Limits(timeout_s=1.5, cpu_s=3, memory_mb=256, processes=8)

SQUARE = textwrap.dedent("""
    def square(x):
        if x == 7:
            while True:
                pass
        if x == 9:
            raise ValueError("nine is unlucky")
        if x == 5:
            print("five!")
        return x * x

    class Rigged:
        def __eq__(self, other):
            return True
        __hash__ = object.__hash__

    def rigged(x):
        return Rigged()
    """)


def test_pair_case_builds_an_assert_with_literals():
    assert pair_case("f", (1, "a", [2.5]), {"k": (1,)}).source == \
        "assert f(1, 'a', [2.5]) == {'k': (1,)}"
    assert pair_case("f", {"x": float("inf")}, set()).source == \
        "assert f(x=float('inf')) == set()"


def test_pair_case_refuses_values_without_a_literal_form():
    with pytest.raises(TaskFormatError, match="no Python literal"):
        pair_case("f", [object()], 1)
    with pytest.raises(TaskFormatError, match="args must be"):
        pair_case("f", 3, 9)
    with pytest.raises(TaskFormatError, match="not a function name"):
        pair_case("f()", [3], 9)


def test_pairs_are_judged_separately_each_with_its_own_budget():
    tests = pair_cases("square", [([2], 4), ([7], 49), ([3], 10), ([4], 16)])
    verdict = run(SQUARE, tests, FAST)
    assert [r.passed for r in verdict.results] == [True, False, False, True]
    assert [r.error_type for r in verdict.results] == [None, "Timeout", "AssertionError", None]
    assert "square(3) returned 9" in verdict.results[2].message
    assert verdict.ended == "timeout"


def test_a_pair_whose_result_has_a_rigged_eq_fails():
    verdict = run(SQUARE, [pair_case("rigged", [1], 1)], FAST)
    assert verdict.results[0].error_type == "NotStandardType"


def test_doctest_cases_split_one_case_per_example_with_output():
    cases = doctest_cases("""
        >>> xs = [square(2)]
        >>> xs + [1]
        [4, 1]
        >>> square(3)
        9
    """)
    assert [c.source for c in cases] == [
        ">>> xs = [square(2)]\n>>> xs + [1]\n[4, 1]\n",
        ">>> xs = [square(2)]\n>>> xs + [1]\n>>> square(3)\n9\n",
    ]


def test_doctests_are_judged_in_the_harness():
    tests = doctest_cases("""
        >>> square(3)
        9
        >>> square(4)
        15
        >>> [square(i) for i in (1, 2)]
        [1, 4]
        >>> square(5)
        five!
        25
        >>> print(square(2), "ok")
        4 ok
        >>> square(9)
        Traceback (most recent call last):
          ...
        ValueError: nine is unlucky
        >>> square(2)
        Traceback (most recent call last):
        ValueError: nine is unlucky
        >>> xs = [square(2)]
        >>> xs
        [4]
        >>> rigged(1)
        1
    """)
    verdict = run(SQUARE, tests, FAST)
    outcome = [(r.passed, r.error_type) for r in verdict.results]
    assert outcome == [(True, None), (False, "OutputMismatch"), (True, None),
                       (False, "OutputMismatch"), (True, None), (True, None),
                       (False, "OutputMismatch"), (True, None), (False, "NotStandardType")]
    assert "expected '15', got '16'" in verdict.results[1].message


def test_a_doctest_printing_in_the_child_is_not_its_output():
    # `five!` is printed by the candidate; only the returned value is the example's output
    verdict = run(SQUARE, [Case(">>> square(5)\nfive!\n25")], FAST)
    assert verdict.results[0].error_type == "OutputMismatch"
    assert verdict.results[0].stdout == "five!\n"


def test_a_statement_doctest_runs_in_the_child_and_is_marked_weaker():
    verdict = run(SQUARE, [Case(">>> for i in (1, 2):\n...     print(square(i))\n1\n4")], FAST)
    assert verdict.passed
    assert "1 test(s) are not a single assert" in verdict.detail


def test_a_doctest_with_several_outputs_in_one_case_is_refused():
    with pytest.raises(TaskFormatError, match="doctest_cases"):
        run(SQUARE, [Case(">>> square(2)\n4\n>>> square(3)\n9")], FAST)


def test_cases_from_mixes_asserts_and_doctests():
    cases = cases_from(["assert square(2) == 4", ">>> square(3)\n9\n>>> square(1)\n1"])
    assert len(cases) == 3
    verdict = run(SQUARE, cases, FAST)
    assert verdict.passed and verdict.detail == ""


def test_asserts_with_comprehension_variables_still_run():
    verdict = run(SQUARE, [Case("assert all(square(i) == i * i for i in range(4))"),
                           Case("assert [square(i) for i in (1, 2)] == [1, 5]")], FAST)
    assert [r.passed for r in verdict.results] == [True, False]
    assert "2 test(s)" in verdict.detail


def test_an_assert_with_a_message_is_still_judged_in_the_harness():
    verdict = run(SQUARE, [Case("assert square(3) == 10, 'wrong'")], FAST)
    assert verdict.results[0].error_type == "AssertionError"
    assert verdict.detail == ""


def test_a_syntax_error_in_the_program_fails_every_test():
    verdict = run("def f(:\n", [Case("assert f() == 1"), Case(">>> f()\n1")], FAST)
    assert [r.error_type for r in verdict.results] == ["SyntaxError", "SyntaxError"]


def test_a_test_that_does_not_parse_is_a_task_format_error():
    with pytest.raises(TaskFormatError, match="not valid Python"):
        run(SQUARE, [Case("assert square(2 == 4")], FAST)


def test_each_result_reports_its_cpu_time_and_peak_memory():
    program = ("def f():\n    hoard = bytearray(120 * 2 ** 20)\n"
               "    return sum(range(3 * 10 ** 6)) > len(hoard)\n")
    verdict = run(program, [Case("assert f() is True"), Case("assert 1 == 1")], FAST)
    heavy, light = verdict.results
    assert heavy.passed and light.passed
    assert heavy.cpu_s > 0.01 and heavy.cpu_s > light.cpu_s
    assert heavy.peak_memory_mb > 120 > light.peak_memory_mb


def test_validation_works_when_descriptor_numbers_pass_1024():
    # A long-lived process (a batch, the REPL, this test session) can hold more than 1024
    # descriptors; the verdict pipe then gets a number select() refuses.
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the descriptor limit here is {hard}, below the 1200 this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        verdict = run("def square(x):\n    return x * x\n", [Case("assert square(3) == 9")])
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert verdict.passed, verdict.detail
