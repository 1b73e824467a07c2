"""The bundled compositional stream is solvable: reference solutions (kept here, not in the
product) pass every task's tests in the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlib.agent.taskfile import read_tasks
from agentlib.sandbox import run

STREAM = Path(__file__).resolve().parents[1] / "agentlib" / "bench" / "data" / "compositional.jsonl"

REFERENCE = '''
def is_leap_year(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
has_366_days = is_leap_year
def days_in_month(y, m):
    return [31, 29 if is_leap_year(y) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
def day_of_year(y, m, d):
    return sum(days_in_month(y, k) for k in range(1, m)) + d
ordinal_date = day_of_year
def is_prime(n):
    return n > 1 and all(n % k for k in range(2, int(n ** 0.5) + 1))
check_prime = is_prime
def primes_below(n):
    return [k for k in range(n) if is_prime(k)]
def sum_primes_below(n):
    return sum(primes_below(n))
def reverse_words(s):
    return " ".join(reversed(s.split()))
flip_words = reverse_words
def is_palindrome(t):
    c = [ch.lower() for ch in t if ch.isalnum()]
    return c == c[::-1]
def word_counts(t):
    out = {}
    for w in t.lower().split():
        out[w] = out.get(w, 0) + 1
    return out
count_words = word_counts
def most_common_word(t):
    c = word_counts(t)
    return max(c, key=lambda w: c[w])
def transpose(m):
    return [list(r) for r in zip(*m)]
flip_matrix = transpose
def mat_mul(a, b):
    return [[sum(x * y for x, y in zip(r, c)) for c in zip(*b)] for r in a]
def is_symmetric(m):
    return m == transpose(m)
def mat_square(m):
    return mat_mul(m, m)
def gcd(a, b):
    while b:
        a, b = b, a % b
    return a
greatest_common_divisor = gcd
def lcm(a, b):
    return a * b // gcd(a, b)
def lcm_list(xs):
    out = 1
    for x in xs:
        out = lcm(out, x)
    return out
def digit_sum(n):
    return sum(int(d) for d in str(n))
sum_of_digits = digit_sum
def digital_root(n):
    while n >= 10:
        n = digit_sum(n)
    return n
def fibonacci(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
fib = fibonacci
def fib_list(n):
    return [fibonacci(k) for k in range(n)]
def even_fib_sum(limit):
    total, k = 0, 0
    while fibonacci(k) <= limit:
        total += fibonacci(k) if fibonacci(k) % 2 == 0 else 0
        k += 1
    return total
'''


def test_stream_has_families_and_enough_tasks():
    lines = list(read_tasks(STREAM))
    assert len(lines) >= 30 and all(line.task for line in lines)
    assert len({line.id.split("-")[0] for line in lines}) >= 5


@pytest.mark.parametrize("line", list(read_tasks(STREAM)), ids=lambda line: line.id)
def test_reference_passes_every_task(line):
    verdict = run(REFERENCE, line.task.tests)
    assert verdict.passed, [(r.test, r.message) for r in verdict.failures]
