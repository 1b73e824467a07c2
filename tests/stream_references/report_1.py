"""Reference solutions of agentlib/bench/data/report-1.jsonl (tests only, never the product).

One function per task that is not a restatement; a restated task is checked against the
function of the task it restates, wrapped under the restated task's name. Written for these
tests, not copied from MBPP's reference code.
"""


def pack_consecutive_duplicates(items):
    groups = []
    for item in items:
        if groups and groups[-1][0] == item:
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def consecutive_duplicates(items):
    return [group[0] for group in pack_consecutive_duplicates(items)]


def run_length_encode(text):
    return [(group[0], len(group)) for group in pack_consecutive_duplicates(list(text))]


def run_length_decode(pairs):
    return "".join(ch * count for ch, count in pairs)


def compress_string(text):
    return "".join(f"{ch}{count}" for ch, count in run_length_encode(text))


def expand_string(code):
    pairs, i = [], 0
    while i < len(code):
        ch, j = code[i], i + 1
        while j < len(code) and code[j].isdigit():
            j += 1
        pairs.append((ch, int(code[i + 1:j])))
        i = j
    return run_length_decode(pairs)


def longest_run(items):
    return max((len(g) for g in pack_consecutive_duplicates(items)), default=0)


def binomial(n, k):
    if k < 0 or k > n:
        return 0
    out = 1
    for i in range(min(k, n - k)):
        out = out * (n - i) // (i + 1)
    return out


def catalan_number(n):
    return binomial(2 * n, n) // (n + 1)


def bell_Number(n):
    row = [1]
    for _ in range(n):
        nxt = [row[-1]]
        for value in row:
            nxt.append(nxt[-1] + value)
        row = nxt
    return row[0]


def sum_Of_product(n):
    return sum(binomial(n, k) * binomial(n, k + 1) for k in range(n))


def arrangements(n, k):
    if k > n:
        return 0
    out = 1
    for i in range(n - k + 1, n + 1):
        out *= i
    return out


def lattice_paths(width, height):
    return binomial(width + height, width)


def pascal_row(n):
    return [binomial(n, k) for k in range(n + 1)]


def mean(values):
    return sum(values) / len(values)


def big_diff(values):
    return max(values) - min(values)


def median(values):
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def modes(values):
    counts = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    top = max(counts.values())
    return sorted(v for v, c in counts.items() if c == top)


def variance(values):
    m = mean(values)
    return sum((v - m) ** 2 for v in values) / len(values)


def std_dev(values):
    return variance(values) ** 0.5


def z_scores(values):
    m, s = mean(values), std_dev(values)
    return [0.0 if s == 0 else round((v - m) / s, 2) for v in values]


def parse_duration(text):
    total, number = 0, ""
    for ch in text:
        if ch.isdigit():
            number += ch
        else:
            total += int(number) * {"h": 3600, "m": 60, "s": 1}[ch]
            number = ""
    return total


def format_duration(seconds):
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def clock_to_seconds(text):
    parts = [int(p) for p in text.split(":")] + [0]
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def add_duration(clock, duration):
    total = (clock_to_seconds(clock) + parse_duration(duration)) % 86400
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}"


def total_duration(durations):
    return format_duration(sum(parse_duration(d) for d in durations))


def minutes_between(start, end):
    return (clock_to_seconds(end) - clock_to_seconds(start)) % 86400 // 60


def count_set_bits(n):
    count = 0
    while n:
        n &= n - 1
        count += 1
    return count


def is_power_of_two(n):
    return n > 0 and n & (n - 1) == 0


def bit_parity(n):
    return count_set_bits(n) % 2


def hamming_distance(a, b):
    return count_set_bits(a ^ b)


def next_power_of_two(n):
    p = 1
    while p < n:
        p *= 2
    return p
