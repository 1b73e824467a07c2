"""Reference solutions of agentlib/bench/data/compositional.jsonl (tests only, never the product).

One function per task that is not a restatement under a new name; a restated task is checked
against the function of the task it restates, wrapped under the restated task's name.
"""


def is_leap_year(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def days_in_month(y, m):
    return [31, 29 if is_leap_year(y) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]


def day_of_year(y, m, d):
    return sum(days_in_month(y, k) for k in range(1, m)) + d


def is_prime(n):
    return n > 1 and all(n % k for k in range(2, int(n ** 0.5) + 1))


def primes_below(n):
    return [k for k in range(n) if is_prime(k)]


def sum_primes_below(n):
    return sum(primes_below(n))


def reverse_words(s):
    return " ".join(reversed(s.split()))


def is_palindrome(t):
    c = [ch.lower() for ch in t if ch.isalnum()]
    return c == c[::-1]


def word_counts(t):
    out = {}
    for w in t.lower().split():
        out[w] = out.get(w, 0) + 1
    return out


def most_common_word(t):
    c = word_counts(t)
    return max(c, key=lambda w: c[w])


def transpose(m):
    return [list(r) for r in zip(*m, strict=True)]


def mat_mul(a, b):
    return [[sum(x * y for x, y in zip(r, c, strict=True)) for c in zip(*b, strict=True)] for r in a]


def is_symmetric(m):
    return m == transpose(m)


def mat_square(m):
    return mat_mul(m, m)


def gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def lcm(a, b):
    return a * b // gcd(a, b)


def lcm_list(xs):
    out = 1
    for x in xs:
        out = lcm(out, x)
    return out


def digit_sum(n):
    return sum(int(d) for d in str(n))


def digital_root(n):
    while n >= 10:
        n = digit_sum(n)
    return n


def fibonacci(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def fib_list(n):
    return [fibonacci(k) for k in range(n)]


def even_fib_sum(limit):
    total, k = 0, 0
    while fibonacci(k) <= limit:
        total += fibonacci(k) if fibonacci(k) % 2 == 0 else 0
        k += 1
    return total
