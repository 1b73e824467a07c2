"""The in-domain input generator: generated inputs keep the shapes, invariants and magnitudes
of the tests' own arguments. Pure data: nothing is run."""

from __future__ import annotations

from agentlib.model import TestCase as Case
from agentlib.verify.domain import Domain, generate_inputs
from agentlib.verify.observe import observe


def inputs(tests: list[str], entry: str, count: int = 40) -> list[tuple]:
    return generate_inputs(observe(tests, entry), count)


def test_observe_reads_literal_calls_keywords_doctests_and_expected_results():
    seen = observe(['assert pad("ab", width=4) == "ab  "', 'assert pad("x", width=2) == "x "',
                    "assert pad(name, width=3)", Case(">>> pad('q', width=1)\n'q'")], "pad")
    assert seen.examples == [("ab", 4), ("x", 2), ("q", 1)] and seen.keywords == ("width",)
    assert seen.expected == ["ab  ", "x ", "q"]


def test_rectangular_matrices_stay_rectangular_and_never_ragged():
    tests = ["assert transpose([[1, 2, 3], [4, 5, 6]]) == [[1, 4], [2, 5], [3, 6]]",
             "assert transpose([[1, 2], [3, 4]]) == [[1, 3], [2, 4]]",
             "assert transpose([[7]]) == [[7]]"]
    found = inputs(tests, "transpose")
    assert len(found) >= 20
    for (matrix,) in found:
        assert matrix and len({len(row) for row in matrix}) == 1, matrix
        assert all(type(v) is int and 1 <= v <= 10 for row in matrix for v in row)
        assert len(matrix) <= 2 and len(matrix[0]) <= 3  # no size the tests never use


def test_a_matrix_product_keeps_the_inner_dimensions_equal():
    tests = ["assert mat_mul([[1, 2], [3, 4]], [[5, 6], [7, 8]]) == [[19, 22], [43, 50]]",
             "assert mat_mul([[1, 0, 2]], [[1], [2], [3]]) == [[7]]",
             "assert mat_mul([[2, 1], [0, 1], [1, 1]], [[1, 2, 0], [3, 0, 1]]) == "
             "[[5, 4, 1], [3, 0, 1], [4, 2, 1]]"]
    found = inputs(tests, "mat_mul")
    assert len(found) >= 20
    assert all(len(a[0]) == len(b) for a, b in found)
    assert any(len(a) != len(a[0]) for a, _ in found)  # non-square stays possible


def test_sorted_distinct_and_non_negative_stay_so():
    tests = ["assert find_sorted([1, 3, 5, 7, 9], 7) == 3", "assert find_sorted([2, 4, 6], 2) == 0",
             "assert find_sorted([0, 2, 3, 10, 20, 30], 30) == 5"]
    found = inputs(tests, "find_sorted")
    assert len(found) >= 20
    for xs, x in found:
        assert xs == sorted(xs) and len(set(xs)) == len(xs) and min(xs) >= 0
        assert x in xs  # every test looks up an element that is there
    assert any(x != xs[-1] for xs, x in found)


def test_relations_between_arguments_hold():
    sized = inputs(["assert max_sum([1, 2, 3], 3) == 6", "assert max_sum([5, 1, 7, 2], 4) == 15",
                    "assert max_sum([9], 1) == 9"], "max_sum")
    assert sized and all(n == len(xs) for xs, n in sized)
    assert {len(xs) for xs, _ in sized} != {3}  # lengths vary, n follows them
    kth = inputs(["assert kth([7, 1, 5, 3], 2) == 3", "assert kth([4, 2, 9], 3) == 9",
                  "assert kth([8, 6, 1, 2, 5], 1) == 1"], "kth")
    assert kth and all(1 <= k <= len(xs) for xs, k in kth)


def test_numbers_keep_sign_and_magnitude_and_constants_stay_constant():
    found = inputs(["assert f(12, 10) == 2", "assert f(40, 10) == 4", "assert f(7, 10) == 0"], "f")
    assert found and all(0 < n <= 48 and base == 10 for n, base in found)
    negative = inputs(["assert g(-5) == 5", "assert g(-20) == 20"], "g")
    assert negative and all(v < 0 for (v,) in negative)


def test_strings_keep_the_tests_characters_and_shape():
    binary = inputs(["assert b('1011') == 11", "assert b('0') == 0", "assert b('11111111') == 255"],
                    "b")
    assert binary and all(set(s) <= {"0", "1"} for (s,) in binary)
    dates = inputs(['assert days("2024-01-01", "2024-12-31") == 365',
                    'assert days("2023-01-01", "2024-01-01") == 365'], "days")
    assert dates and all(len(a) == 10 and a[4] == a[7] == "-" for a, _ in dates)
    assert all(a[:3] == "202" for a, _ in dates)  # a year does not jump to 9024
    words = inputs(['assert f("I am here") == 3', 'assert f("My Name is Dawood") == 4'], "f")
    assert words and all(s == s.strip() and "  " not in s for (s,) in words)


def test_generation_is_deterministic_and_never_repeats_a_test_input():
    tests = ["assert square(2) == 4", "assert square(3) == 9", "assert square(-1) == 1"]
    first, again = inputs(tests, "square"), inputs(tests, "square")
    assert first == again and len(set(first)) == len(first)
    assert not {(2,), (3,), (-1,)} & set(first)
    assert all(-4 <= v <= 6 for (v,) in first)


def test_without_literal_calls_nothing_is_generated():
    assert inputs(["assert f(g()) == 1", "assert f(x) == 2"], "f") == []


def test_changed_strings_are_told_apart_from_changed_numbers():
    domain = Domain(observe(['assert rate("Monday", 2) == 4', 'assert rate("Sunday", 5) == 10'],
                            "rate"))
    assert not domain.text_changed(("Sunday", 3))
    assert domain.text_changed(("Mondax", 2))
    names = {"x1 in x0", "x0 rectangular"} & {i.name for i in domain.invariants}
    assert not names
