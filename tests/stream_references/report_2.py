"""Reference solutions of agentlib/bench/data/report-2.jsonl (tests only, never the product).

One function per task that is not a restatement; a restated task is checked against the
function of the task it restates, wrapped under the restated task's name. Written for these
tests, not copied from MBPP's reference code.
"""

from collections import deque


def tuple_modulo(a, b):
    return tuple(x % y for x, y in zip(a, b, strict=True))


def union_elements(a, b):
    return tuple(sorted(set(a) | set(b)))


def check_smaller(a, b):
    return all(y < x for x, y in zip(a, b, strict=True))


def check_K(items, k):
    return any(item == k for item in items)


def common_elements(a, b):
    return tuple(sorted(set(a) & set(b)))


def only_in_one(a, b):
    both = set(common_elements(a, b))
    return tuple(x for x in union_elements(a, b) if x not in both)


def jaccard(a, b):
    union = union_elements(a, b)
    return len(common_elements(a, b)) / len(union) if union else 1.0


def tally(items):
    counts = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def is_sub_multiset(a, b):
    have = tally(b)
    return all(have.get(x, 0) >= n for x, n in tally(a).items())


def multiset_intersection(a, b):
    have = tally(b)
    return sorted(x for x, n in tally(a).items() for _ in range(min(n, have.get(x, 0))))


def multiset_difference(a, b):
    remove = tally(b)
    return sorted(x for x, n in tally(a).items() for _ in range(max(0, n - remove.get(x, 0))))


def are_anagrams(first, second):
    def letters(s):
        return tally([c.lower() for c in s if c != " "])
    return letters(first) == letters(second)


def top_k(items, k):
    counts = tally(items)
    return sorted(counts, key=lambda x: (-counts[x], x))[:k]


def distance(p, q):
    return ((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2) ** 0.5


def polygon_area(points):
    twice = 0
    for i, (x1, y1) in enumerate(points):
        x2, y2 = points[(i + 1) % len(points)]
        twice += x1 * y2 - x2 * y1
    return abs(twice) / 2


def perimeter(points):
    return sum(distance(points[i], points[(i + 1) % len(points)]) for i in range(len(points)))


def triangle_kind(a, b, c):
    x, y, z = sorted((a, b, c))
    if x <= 0 or x + y <= z:
        return "invalid"
    if x == z:
        return "equilateral"
    return "isosceles" if x == y or y == z else "scalene"


def point_in_rect(point, rect):
    return rect[0] <= point[0] <= rect[2] and rect[1] <= point[1] <= rect[3]


def count_points_in_rect(points, rect):
    return sum(point_in_rect(p, rect) for p in points)


def closest_distance(points):
    return min(distance(points[i], points[j])
               for i in range(len(points)) for j in range(i + 1, len(points)))


def neighbors(rows, cols, r, c):
    cells = [(r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)]
    return [(i, j) for i, j in cells if 0 <= i < rows and 0 <= j < cols]


def find_cells(grid, ch):
    return [(r, c) for r, row in enumerate(grid) for c, cell in enumerate(row) if cell == ch]


def _region(grid, r, c):
    want, seen, todo = grid[r][c], {(r, c)}, [(r, c)]
    while todo:
        cell = todo.pop()
        for i, j in neighbors(len(grid), len(grid[0]), *cell):
            if (i, j) not in seen and grid[i][j] == want:
                seen.add((i, j))
                todo.append((i, j))
    return seen


def count_islands(grid):
    seen, count = set(), 0
    for cell in find_cells(grid, "#"):
        if cell not in seen:
            seen |= _region(grid, *cell)
            count += 1
    return count


def flood_fill(grid, r, c, new):
    region = _region(grid, r, c)
    return ["".join(new if (i, j) in region else ch for j, ch in enumerate(row))
            for i, row in enumerate(grid)]


def shortest_path(grid, start, goal):
    steps, todo = {start: 0}, deque([start])
    while todo:
        cell = todo.popleft()
        if cell == goal:
            return steps[cell]
        for i, j in neighbors(len(grid), len(grid[0]), *cell):
            if (i, j) not in steps and grid[i][j] == ".":
                steps[(i, j)] = steps[cell] + 1
                todo.append((i, j))
    return -1


def caesar(text, shift):
    out = []
    for ch in text:
        if "a" <= ch <= "z" or "A" <= ch <= "Z":
            base = ord("a") if ch.islower() else ord("A")
            out.append(chr(base + (ord(ch) - base + shift) % 26))
        else:
            out.append(ch)
    return "".join(out)


def atbash(text):
    out = []
    for ch in text:
        if "a" <= ch <= "z":
            out.append(chr(ord("z") - (ord(ch) - ord("a"))))
        elif "A" <= ch <= "Z":
            out.append(chr(ord("Z") - (ord(ch) - ord("A"))))
        else:
            out.append(ch)
    return "".join(out)


def _vigenere(text, key, sign):
    out, i = [], 0
    for ch in text:
        if ch.isalpha():
            out.append(caesar(ch, sign * (ord(key[i % len(key)]) - ord("a"))))
            i += 1
        else:
            out.append(ch)
    return "".join(out)


def vigenere(text, key):
    return _vigenere(text, key, 1)


def vigenere_decrypt(text, key):
    return _vigenere(text, key, -1)


def crack_caesar(ciphertext, word):
    for shift in range(26):
        if word in caesar(ciphertext, -shift):
            return shift
    return None


def rot13(text):
    return caesar(text, 13)
