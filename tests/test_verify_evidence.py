"""Evidence beyond the tests: the candidate next to an independent implementation on
generated in-domain inputs, both through the real sandbox, and the Verification record."""

from __future__ import annotations

from agentlib.model import TestCase as Case
from agentlib.verify import Check, Verification, compare_with_reference, verification
from agentlib.verify import record as records

PRIME_TESTS = ["assert is_prime(2) == True", "assert is_prime(7) == True",
               "assert is_prime(10) == False"]
PRIME = """def is_prime(n):
    if n < 2:
        return False
    return all(n % d for d in range(2, int(n ** 0.5) + 1))
"""
ACCEPTS_4 = "def is_prime(n):\n    return n > 1 and all(n % d for d in range(2, int(n ** 0.5)))\n"


def test_the_is_prime_that_accepts_4_is_shown_a_counterexample():
    evidence = compare_with_reference(ACCEPTS_4, "is_prime", PRIME_TESTS, PRIME)
    assert evidence.reference_passed and evidence.generated >= 8
    assert evidence.counterexamples and evidence.agreed < evidence.compared
    shown = {c.call: (c.candidate, c.reference) for c in evidence.counterexamples}
    assert all(v == ("True", "False") for v in shown.values())
    numbers = [int(call[len("is_prime("):-1]) for call in shown]
    assert all(n > 3 and any(n % d == 0 for d in range(2, n)) for n in numbers)  # composites
    assert len(evidence.calls) == evidence.generated


def test_two_correct_implementations_agree():
    other = "def is_prime(n):\n    return n > 1 and not any(n % d == 0 for d in range(2, n))\n"
    evidence = compare_with_reference(other, "is_prime", PRIME_TESTS, PRIME)
    assert evidence.counterexamples == [] and evidence.agreed == evidence.compared >= 8


def test_float_rounding_is_not_a_disagreement():
    tests = ["assert mean([1, 2]) == 1.5", "assert mean([3, 4, 8]) == 5.0"]
    exact = "def mean(xs):\n    return sum(xs) / len(xs)\n"
    rounded = "import math\n\ndef mean(xs):\n    return math.fsum(x / len(xs) for x in xs)\n"
    evidence = compare_with_reference(rounded, "mean", tests, exact)
    assert evidence.counterexamples == [] and evidence.agreed == evidence.compared > 0


def test_a_reference_that_fails_the_tests_gives_no_comparison():
    evidence = compare_with_reference(PRIME, "is_prime", PRIME_TESTS,
                                      "def is_prime(n):\n    return False\n")
    assert not evidence.reference_passed and evidence.compared == 0
    assert "fails the task's tests" in evidence.warnings[0]


def test_raising_where_the_other_returns_is_a_warning_not_a_counterexample():
    tests = ["assert first([3, 1]) == 3", "assert first([5, 2, 8]) == 5"]
    candidate = "def first(xs):\n    if len(xs) == 3:\n        raise IndexError('oops')\n    return xs[0]\n"
    evidence = compare_with_reference(candidate, "first", tests,
                                      "def first(xs):\n    return xs[0]\n")
    assert evidence.counterexamples == []
    assert any("raised or ran out of time" in w for w in evidence.warnings)


def test_setup_code_of_the_tests_reaches_both_programs():
    tests = [Case("assert scale(2) == 2 * FACTOR", "FACTOR = 3"),
             Case("assert scale(5) == 15", "FACTOR = 3")]
    candidate = "def scale(x):\n    return x * 3\n"
    evidence = compare_with_reference(candidate, "scale", tests, "def scale(x):\n    return 3 * x\n")
    assert evidence.reference_passed and evidence.counterexamples == []


def test_weak_tests_and_the_verification_status():
    assert records.tests_are_weak(PRIME_TESTS, "is_prime")
    strong = [f"assert sq({i}) == {i * i}" for i in range(2, 8)]
    assert not records.tests_are_weak(strong, "sq")
    agreeing = compare_with_reference(PRIME, "is_prime", PRIME_TESTS, PRIME)
    record = verification(PRIME_TESTS, "is_prime", [Check("special-cases"), Check(
        "fuzz", warnings=("slow on is_prime(19)",))], agreeing)
    assert record.status == "confirmed" and record.tests_passed == 3
    assert record.checks == ["special-cases", "fuzz", "independent"]
    assert record.agreed == agreeing.agreed >= 10 and "slow on is_prime(19)" in record.warnings
    wrong = compare_with_reference(ACCEPTS_4, "is_prime", PRIME_TESTS, PRIME)
    doubted = verification(PRIME_TESTS, "is_prime", [Check("special-cases")], wrong)
    assert doubted.status == "unconfirmed"
    assert any(w.startswith("disagrees with an independent implementation on is_prime(")
               for w in doubted.warnings)
    assert verification(PRIME_TESTS, "is_prime", []).status == "unconfirmed"  # weak, no evidence
    assert verification(strong, "sq", []).status == "confirmed"
    assert verification(strong, "sq", [Check("fuzz", reject="no")]).status == "unconfirmed"
    assert Verification.from_dict(record.to_dict()) == record
