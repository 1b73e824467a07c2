"""Reference solutions of agentlib/bench/data/tune-1.jsonl (tests only, never the product).

One function per task that is not a restatement; a restated task is checked against the
function of the task it restates, wrapped under the restated task's name. Written for these
tests, not copied from MBPP's reference code.
"""


def find_first_occurrence(arr, x):
    for i, v in enumerate(arr):
        if v == x:
            return i
    return -1


def last(arr, x):
    for i in range(len(arr) - 1, -1, -1):
        if arr[i] == x:
            return i
    return -1


def left_insertion(arr, x):
    lo, hi = 0, len(arr)
    while lo < hi:
        mid = (lo + hi) // 2
        if arr[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def right_insertion(arr, x):
    lo, hi = 0, len(arr)
    while lo < hi:
        mid = (lo + hi) // 2
        if arr[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def count_in_sorted(arr, x):
    return right_insertion(arr, x) - left_insertion(arr, x)


def count_between(arr, lo, hi):
    return max(0, right_insertion(arr, hi) - left_insertion(arr, lo))


def toggle_string(text):
    return "".join(c.lower() if c.isupper() else c.upper() for c in text)


def remove_all_spaces(text):
    return "".join(c for c in text if not c.isspace())


def max_run_uppercase(text):
    best = run = 0
    for c in text:
        run = run + 1 if c.isupper() else 0
        best = max(best, run)
    return best


def first_repeated_char(text):
    seen = set()
    for c in text:
        if c in seen:
            return c
        seen.add(c)
    return None


def number_ctr(text):
    return sum(c in "0123456789" for c in text)


def squash_and_swap(text):
    return toggle_string(remove_all_spaces(text))


def has_repeated_char(text):
    return first_repeated_char(text) is not None


def digit_share(text):
    return round(number_ctr(text) / len(text), 2) if text else 0.0


def intervals_overlap(a, b):
    return a[0] <= b[1] and b[0] <= a[1]


def merge_intervals(intervals):
    out = []
    for start, end in sorted(tuple(i) for i in intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def interval_intersection(a, b):
    if not intervals_overlap(a, b):
        return None
    return (max(a[0], b[0]), min(a[1], b[1]))


def covered_length(intervals):
    return sum(end - start for start, end in merge_intervals(intervals))


def free_slots(busy, day_start, day_end):
    gaps, cursor = [], day_start
    for start, end in merge_intervals(busy):
        if end <= cursor:
            continue
        if start >= day_end:
            break
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < day_end:
        gaps.append((cursor, day_end))
    return gaps


_ROMAN = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
          (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]


def to_roman(n):
    out = []
    for value, letters in _ROMAN:
        while n >= value:
            out.append(letters)
            n -= value
    return "".join(out)


def from_roman(numeral):
    values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
    total = 0
    for i, c in enumerate(numeral):
        v = values[c]
        if i + 1 < len(numeral) and values[numeral[i + 1]] > v:
            total -= v
        else:
            total += v
    return total


def roman_add(a, b):
    return to_roman(from_roman(a) + from_roman(b))


def is_valid_roman(numeral):
    if not numeral or any(c not in "IVXLCDM" for c in numeral):
        return False
    value = from_roman(numeral)
    return 1 <= value <= 3999 and to_roman(value) == numeral


def sort_roman(numerals):
    return sorted(numerals, key=from_roman)


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def to_base(n, base):
    if n == 0:
        return "0"
    out = []
    while n:
        n, d = divmod(n, base)
        out.append(_DIGITS[d])
    return "".join(reversed(out))


def from_base(digits, base):
    value = 0
    for c in digits.lower():
        value = value * base + _DIGITS.index(c)
    return value


def convert_base(digits, source_base, target_base):
    return to_base(from_base(digits, source_base), target_base)


def digit_count(n, base):
    return len(to_base(n, base))


def add_in_base(a, b, base):
    return to_base(from_base(a, base) + from_base(b, base), base)
