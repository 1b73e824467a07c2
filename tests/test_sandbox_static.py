"""The static check for literal special-casing of the test inputs."""

from __future__ import annotations

import textwrap

from agentlib.model import TestCase as Case
from agentlib.sandbox import doctest_cases, pair_cases, special_cases_tests


def check(program: str, *tests: str) -> str | None:
    return special_cases_tests(textwrap.dedent(program), [Case(t) for t in tests])


def test_if_chain_on_the_test_inputs_is_flagged():
    reason = check("""
        def add(a, b):
            if a == 2 and b == 3:
                return 5
            elif (a, b) == (10, 20):
                return 30
            return a - b
        """, "assert add(2, 3) == 5", "assert add(10, 20) == 30", "assert add(0, 0) == 0")
    assert reason is not None
    assert "add" in reason and "2 of 3 tests" in reason


def test_a_lookup_table_of_the_expected_outputs_is_flagged():
    reason = check("""
        def is_prime(n):
            return {7: True, 10: False, 13: True}.get(n, False)
        """, "assert is_prime(7) == True", "assert is_prime(10) == False",
        "assert is_prime(13) == True")
    assert reason is not None and "is_prime" in reason


def test_a_conditional_expression_and_in_are_flagged():
    reason = check("""
        def f(x):
            if x in (17, 23):
                return "odd"
            return "big" if x == 1000 else "small"
        """, "assert f(17) == 'odd'", "assert f(1000) == 'big'")
    assert reason is not None


def test_a_single_special_case_among_several_tests_is_not_flagged():
    assert check("""
        def f(x):
            if x == 17:
                return 289
            return x * x
        """, "assert f(17) == 289", "assert f(3) == 9", "assert f(4) == 16") is None


def test_the_only_test_special_cased_is_flagged():
    assert check("""
        def f(x):
            if x == 17:
                return 289
            return 0
        """, "assert f(17) == 289") is not None


def test_trivial_base_cases_are_not_flagged():
    assert check("""
        def fib(n):
            if n == 0:
                return 0
            if n == 1:
                return 1
            return fib(n - 1) + fib(n - 2)
        """, "assert fib(0) == 0", "assert fib(1) == 1", "assert fib(10) == 55") is None


def test_an_honest_program_is_not_flagged():
    assert check("""
        def add(a, b):
            return a + b
        """, "assert add(2, 3) == 5", "assert add(10, 20) == 30") is None


def test_branches_that_return_something_else_are_not_flagged():
    assert check("""
        def clamp(x, hi):
            if x == 50 and hi == 10:
                return hi
            return min(x, hi)
        """, "assert clamp(50, 10) == 10", "assert clamp(70, 20) == 20") is None


def test_pairs_and_doctests_are_checked_too():
    program = textwrap.dedent("""
        def mul(a, b):
            if a == 6 and b == 7:
                return 42
            if a == 3 and b == 5:
                return 15
            return 0
        """)
    assert special_cases_tests(program, pair_cases("mul", [((6, 7), 42), ((3, 5), 15)]))
    assert special_cases_tests(program, doctest_cases(">>> mul(6, 7)\n42\n>>> mul(3, 5)\n15"))


def test_a_program_that_does_not_parse_is_left_to_the_sandbox():
    assert check("def f(:", "assert f(1) == 2") is None
