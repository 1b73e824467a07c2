"""Generate argument tuples in the domain the tests show: same shapes, invariants, magnitudes.

Every generated input is a test's own argument tuple with a few small mutations, kept only if
it still satisfies every invariant that holds on *all* the tests' inputs:

- shapes: a list keeps its length within the lengths the tests use at that place, so a
  rectangular matrix stays rectangular and `len(a[0]) == len(b)` (a matrix product) holds;
- invariants: sorted stays sorted, distinct stays distinct, non-negative stays non-negative,
  `n == len(xs)`, `k < len(xs)`, `x in xs`, `lo <= hi` keep holding;
- magnitudes: a number stays within the range the tests use at that place, a string keeps
  the tests' characters (the last digit of a number in it moves by one or two), a value the
  tests never vary (the same `base=10` everywhere) is not varied.

Only data is built here; nothing of the candidate is imported or run.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentlib.verify.observe import Observed

Path = tuple  # concrete steps: ("i", index) | ("k", key) | ("v", key) | ("s", element)
_SCALARS = (bool, int, float, str, type(None))
_SEQUENCES = (list, tuple)


@dataclass(frozen=True)
class Invariant:
    """A property every test input has; every generated input must have it too."""

    name: str
    holds: Callable[[tuple], bool]

    def check(self, args: tuple) -> bool:
        try:
            return bool(self.holds(args))
        except Exception:  # noqa: BLE001 - comparing generated built-in values: any failure
            return False  # means the property does not hold

    def check_all(self, examples: list[tuple]) -> bool:
        return all(self.check(e) for e in examples)


def _children(value: Any) -> list[tuple[str, Path, Any]]:
    """(class step, concrete step, child) for each child of a container."""
    if isinstance(value, _SEQUENCES):
        return [("L", ("i", i), v) for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        return [("L", ("s", v), v) for v in sorted(value, key=repr)]
    if isinstance(value, dict):
        out = [("K", ("k", k), k) for k in value]
        return out + [("V", ("v", k), v) for k, v in value.items()]
    return []


def _walk(value: Any, cpath: tuple, path: Path):
    """Yield (class path, concrete path, value) for `value` and everything inside it."""
    yield cpath, path, value
    for cstep, step, child in _children(value):
        yield from _walk(child, cpath + (cstep,), path + (step,))


def _nodes(args: tuple):
    for slot, value in enumerate(args):
        yield from _walk(value, (slot,), ((slot,),))


def _get(args: tuple, path: Path) -> Any:
    value = args[path[0][0]]
    for kind, key in path[1:]:
        value = key if kind in ("k", "s") else value[key]
    return value


def _set(args: tuple, path: Path, new: Any) -> tuple:
    def put(value: Any, steps: tuple) -> Any:
        if not steps:
            return new
        (kind, key), rest = steps[0], steps[1:]
        if kind == "i":
            items = list(value)
            items[key] = put(items[key], rest)
            return type(value)(items) if isinstance(value, tuple) else items
        if kind == "s":
            return type(value)((put(key, rest) if v == key else v) for v in value)
        if kind == "k":
            return {(put(k, rest) if k == key else k): v for k, v in value.items()}
        return {k: (put(v, rest) if k == key else v) for k, v in value.items()}

    slot = path[0][0]
    return args[:slot] + (put(args[slot], path[1:]),) + args[slot + 1:]


def _at(args: tuple, cpath: tuple) -> list[Any]:
    """Every value found at class path `cpath` in `args`."""
    found = [args[cpath[0]]]
    for step in cpath[1:]:
        found = [c for v in found for cstep, _, c in _children(v) if cstep == step]
    return found


def _features(examples: list[tuple]) -> list[tuple[str, Callable[[tuple], Any]]]:
    """Numbers each argument offers for relations: its value, its length, its rows' length."""
    first = examples[0]
    found: list[tuple[str, Callable[[tuple], Any]]] = []
    for slot, value in enumerate(first):
        if type(value) is int:
            found.append((f"x{slot}", lambda a, s=slot: _int(a[s])))
        if isinstance(value, (list, tuple, str, dict, set, frozenset)):
            found.append((f"len(x{slot})", lambda a, s=slot: len(a[s])))
        if isinstance(value, _SEQUENCES) and value and isinstance(value[0], (list, tuple, str)):
            found.append((f"len(x{slot}[0])", lambda a, s=slot: len(a[s][0])))
    return found


def _int(value: Any) -> int:
    if type(value) is not int:
        raise TypeError("not an int")
    return value


def _sequence_invariants(cpath: tuple) -> list[Invariant]:
    def each(test: Callable[[Any], bool]) -> Callable[[tuple], bool]:
        return lambda a: all(test(s) for s in _at(a, cpath) if isinstance(s, _SEQUENCES))

    pairs = lambda s: zip(s, s[1:], strict=False)  # noqa: E731
    steps = {"L": "[*]", "K": ".keys", "V": ".values"}
    where = f"x{cpath[0]}" + "".join(steps[c] for c in cpath[1:])
    return [
        Invariant(f"{where} sorted", each(lambda s: all(a <= b for a, b in pairs(s)))),
        Invariant(f"{where} strictly increasing", each(lambda s: all(a < b for a, b in pairs(s)))),
        Invariant(f"{where} sorted descending", each(lambda s: all(a >= b for a, b in pairs(s)))),
        Invariant(f"{where} distinct", each(lambda s: len({repr(v) for v in s}) == len(s))),
        Invariant(f"{where} rectangular", each(
            lambda s: all(isinstance(r, (list, tuple, str)) for r in s)
            and len({len(r) for r in s}) <= 1)),
        Invariant(f"{where} square", each(lambda s: all(len(r) == len(s) for r in s))),
    ]


def _text_invariants(cpath: tuple) -> list[Invariant]:
    def each(test: Callable[[str], bool]) -> Callable[[tuple], bool]:
        return lambda a: all(test(s) for s in _at(a, cpath) if isinstance(s, str))

    where = f"x{cpath[0]}" + "[*]" * (len(cpath) - 1)
    return [Invariant(f"{where} stripped", each(lambda s: s == s.strip())),
            Invariant(f"{where} single-spaced", each(lambda s: "  " not in s))]


def infer_invariants(examples: list[tuple]) -> list[Invariant]:
    """The candidate invariants that hold on every example."""
    candidates: list[Invariant] = []
    nodes = [(c, v) for e in examples for c, _, v in _nodes(e)]
    for cpath in sorted({c for c, v in nodes if isinstance(v, _SEQUENCES)}, key=repr):
        candidates += _sequence_invariants(cpath)
    for cpath in sorted({c for c, v in nodes if isinstance(v, str)}, key=repr):
        candidates += _text_invariants(cpath)
    features = _features(examples)
    for i, (f_name, f) in enumerate(features):
        for g_name, g in features[i + 1:]:
            candidates += [Invariant(f"{f_name} == {g_name}", lambda a, f=f, g=g: f(a) == g(a)),
                           Invariant(f"{f_name} < {g_name}", lambda a, f=f, g=g: f(a) < g(a)),
                           Invariant(f"{f_name} > {g_name}", lambda a, f=f, g=g: f(a) > g(a)),
                           Invariant(f"{f_name} <= {g_name}", lambda a, f=f, g=g: f(a) <= g(a)),
                           Invariant(f"{f_name} >= {g_name}", lambda a, f=f, g=g: f(a) >= g(a))]
    width = len(examples[0])
    for i in range(width):
        for j in range(width):
            if i != j and isinstance(examples[0][j], (list, tuple, set, frozenset, dict, str)):
                candidates.append(Invariant(f"x{i} in x{j}", lambda a, i=i, j=j: a[i] in a[j]))
    return [c for c in candidates if c.check_all(examples)]


@dataclass
class _Pool:
    """The values the tests use at one place (class path and type)."""

    values: list[Any]

    def __post_init__(self) -> None:
        self.distinct = len({repr(v) for v in self.values})
        if self.values and type(self.values[0]) in (int, float):
            self.low, self.high = _range(min(self.values), max(self.values))
        if self.values and type(self.values[0]) is str:
            self.chars = sorted({c for v in self.values for c in v})
            lengths = {len(v) for v in self.values}
            self.lengths = (min(lengths), max(lengths))
            shapes = {tuple(_class(c) for c in v) for v in self.values}
            self.positional = (len(lengths) == 1 and len(shapes) == 1 and len(self.values) > 1)
            self.columns = [sorted({v[i] for v in self.values}) for i in
                            range(self.lengths[0])] if self.positional else []


def _range(low: Any, high: Any) -> tuple[Any, Any]:
    """The tests' range, widened by a quarter (at least 3) without crossing a sign boundary."""
    kind = type(low)
    if low == high:  # one value: vary it towards zero, never beyond it
        return (kind(1 if kind is int else 0) if low > 0 else low), (
            high if low > 0 else kind(-1 if kind is int else 0) if low < 0 else high)
    widen = max(kind(3), (high - low) / 4) if kind is float else max(3, (high - low) // 4)
    floor = kind(1) if low >= 1 else kind(0) if low >= 0 else low - widen
    ceiling = kind(-1) if high <= -1 else kind(0) if high <= 0 else high + widen
    return max(floor, low - widen), min(ceiling, high + widen)


def _class(char: str) -> str:
    return "d" if char.isdigit() else "l" if char.islower() else "u" if char.isupper() else char


class Domain:
    """What the tests show of the entry point's arguments, and a generator of more like them."""

    def __init__(self, observed: Observed):
        self.observed = observed
        self.examples = list(observed.examples)
        self.invariants = infer_invariants(self.examples) if self.examples else []
        self._pools: dict[tuple, _Pool] = {}
        self._lengths: dict[tuple, tuple[int, int]] = {}
        grouped: dict[tuple, list[Any]] = {}
        for example in self.examples:
            for cpath, _, value in _nodes(example):
                if isinstance(value, _SCALARS):
                    grouped.setdefault((cpath, type(value).__name__), []).append(value)
                elif isinstance(value, list):
                    low, high = self._lengths.get(cpath, (len(value), len(value)))
                    self._lengths[cpath] = (min(low, len(value)), max(high, len(value)))
        self._pools = {key: _Pool(values) for key, values in grouped.items()}
        self._derived = self._derived_slots()

    def _derived_slots(self) -> dict[int, Callable[[tuple], Any]]:
        """Int arguments equal to another's length (or to an earlier int) in every test."""
        derived: dict[int, Callable[[tuple], Any]] = {}
        features = _features(self.examples) if self.examples else []
        for slot, value in enumerate(self.examples[0] if self.examples else ()):
            if type(value) is not int:
                continue
            for name, feature in features:
                if name.startswith("x") and int(name[1:]) >= slot:
                    continue  # only lengths, or ints that come earlier
                if Invariant(name, lambda a, s=slot, f=feature: a[s] == f(a)).check_all(
                        self.examples):
                    derived[slot] = feature
                    break
        return derived

    def generate(self, count: int = 40, seed: int | None = None) -> list[tuple]:
        """Up to `count` new argument tuples in the tests' domain, none equal to a test's."""
        if not self.examples:
            return []
        if seed is None:
            digest = hashlib.sha256(repr((self.observed.entry_point, self.examples)).encode())
            seed = int.from_bytes(digest.digest()[:8], "big")
        rng = random.Random(seed)
        seen = {repr(e) for e in self.examples}
        found: list[tuple] = []
        for attempt in range(count * 25):
            if len(found) >= count:
                break
            args = self.examples[attempt % len(self.examples)]
            for _ in range(1 + (rng.random() < 0.4) + (rng.random() < 0.2)):
                args = self._mutate(args, rng)
            for slot, feature in sorted(self._derived.items()):
                try:
                    args = args[:slot] + (feature(args),) + args[slot + 1:]
                except (TypeError, IndexError):
                    break
            key = repr(args)
            if key in seen or not all(i.check(args) for i in self.invariants):
                continue
            seen.add(key)
            found.append(args)
        return found

    def text_changed(self, args: tuple) -> bool:
        """Whether `args` holds a string the tests never use at that place.

        A changed number stays in a dense domain (every int in range is an input); a changed
        string may have left a closed vocabulary ("Mondax"), so inputs like that are weaker
        evidence of anything.
        """
        for cpath, _, value in _nodes(args):
            if type(value) is str:
                pool = self._pools.get((cpath, "str"))
                if pool is None or value not in pool.values:
                    return True
        return False

    def _mutate(self, args: tuple, rng: random.Random) -> tuple:
        leaves = [(c, p, v) for c, p, v in _nodes(args)
                  if isinstance(v, _SCALARS) and self._varies(c, v)]
        lists = [(c, p, v) for c, p, v in _nodes(args)
                 if isinstance(v, list) and p[0][0] not in self._derived]
        if lists and (not leaves or rng.random() < 0.25):
            return self._reshape(args, rng.choice(lists), rng)
        if not leaves:
            return args
        cpath, path, value = rng.choice(leaves)
        new = self._new_leaf(self._pools[(cpath, type(value).__name__)], value, rng)
        if len(path) > 1 and path[-1][0] in ("s", "k"):
            container = _get(args, path[:-1])
            if any(type(new) is type(v) and new == v for v in container):
                return args  # a set element or key that exists already: the size would change
        return _set(args, path, new)

    def _varies(self, cpath: tuple, value: Any) -> bool:
        """Whether the tests vary this place: an argument all the tests give the same value
        (``base=10`` in each) stays as it is; with one test, everything may move a little."""
        if cpath[0] in self._derived or value is None:
            return False
        pool = self._pools.get((cpath, type(value).__name__))
        if pool is None:
            return False
        if type(value) is str:
            return len(pool.chars) > 1 and (pool.distinct > 1 or len(cpath) > 1
                                            or len(self.examples) == 1)
        return pool.distinct > 1 or len(self.examples) == 1

    def _reshape(self, args: tuple, found: tuple, rng: random.Random) -> tuple:
        cpath, path, items = found
        low, high = self._lengths[cpath]
        items = list(items)
        choice = rng.random()
        if choice < 0.35 and len(items) < high and items:
            items.insert(rng.randrange(len(items) + 1), rng.choice(items))
        elif choice < 0.7 and len(items) > low:
            del items[rng.randrange(len(items))]
        elif len(items) >= 2:
            i, j = rng.sample(range(len(items)), 2)
            items[i], items[j] = items[j], items[i]
        return _set(args, path, items)

    def _new_leaf(self, pool: _Pool, value: Any, rng: random.Random) -> Any:
        if type(value) is bool:
            return not value
        if type(value) is int:
            low, high = pool.low, pool.high
            new = value + rng.choice((-2, -1, 1, 2)) if rng.random() < 0.5 else \
                rng.randint(low, high)
            return min(high, max(low, new))
        if type(value) is float:
            low, high = pool.low, pool.high
            new = rng.uniform(low, high)
            if all(float(v).is_integer() for v in pool.values):
                return float(round(new))
            places = max(len(repr(v).partition(".")[2]) for v in pool.values)
            return round(new, min(places, 6))
        if type(value) is str:
            return _new_text(pool, value, rng)
        return value


def _new_text(pool: _Pool, text: str, rng: random.Random) -> str:
    """One small change: a character the tests use at that place, or a last digit moved."""
    for _ in range(6):
        if pool.positional and len(text) == len(pool.columns):
            i = rng.randrange(len(text))
            others = [c for c in pool.columns[i] if c != text[i]]
            if others:
                return text[:i] + rng.choice(others) + text[i + 1:]
            continue
        low, high = pool.lengths
        letters = [c for c in pool.chars if c.isalpha()]
        roll = rng.random()
        if roll < 0.15 and len(text) < high and letters:
            i = rng.randrange(len(text) + 1)
            return text[:i] + rng.choice(letters) + text[i:]
        if roll < 0.3 and len(text) > low:
            i = rng.randrange(len(text))
            if text[i].isalpha():
                return text[:i] + text[i + 1:]
            continue
        if not text:
            continue
        i = rng.randrange(len(text))
        char = text[i]
        if char.isdigit() and char.isascii() and not (i + 1 < len(text) and text[i + 1].isdigit()):
            near = [str(int(char) + step) for step in (-2, -1, 1, 2)]
            near = [d for d in near if d in pool.chars]  # binary digits stay binary
            if near:
                return text[:i] + rng.choice(near) + text[i + 1:]
        elif char.isalpha():
            same = [c for c in letters if c != char and c.isupper() == char.isupper()]
            if same:
                return text[:i] + rng.choice(same) + text[i + 1:]
    return text


def generate_inputs(observed: Observed, count: int = 40, seed: int | None = None) -> list[tuple]:
    """Up to `count` argument tuples in the domain the tests show (see the module docstring)."""
    return Domain(observed).generate(count, seed)
