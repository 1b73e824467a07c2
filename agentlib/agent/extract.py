"""Turn what a small model really writes into one clean candidate function.

Models wrap code in prose, emit several blocks, add their own asserts, prints or `check()`
calls, forget imports and rename the function. Everything here works on the `ast`.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field
from typing import Iterator

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)

# Names small models use without importing them: name -> import line.
KNOWN_IMPORTS = {
    "groupby": "from itertools import groupby", "permutations": "from itertools import permutations",
    "combinations": "from itertools import combinations", "product": "from itertools import product",
    "accumulate": "from itertools import accumulate", "chain": "from itertools import chain",
    "zip_longest": "from itertools import zip_longest",
    "combinations_with_replacement": "from itertools import combinations_with_replacement",
    "reduce": "from functools import reduce", "lru_cache": "from functools import lru_cache",
    "cache": "from functools import cache", "cmp_to_key": "from functools import cmp_to_key",
    "Counter": "from collections import Counter", "defaultdict": "from collections import defaultdict",
    "deque": "from collections import deque", "OrderedDict": "from collections import OrderedDict",
    "namedtuple": "from collections import namedtuple",
    "heappush": "from heapq import heappush", "heappop": "from heapq import heappop",
    "heapify": "from heapq import heapify", "nlargest": "from heapq import nlargest",
    "nsmallest": "from heapq import nsmallest", "bisect_left": "from bisect import bisect_left",
    "bisect_right": "from bisect import bisect_right", "insort": "from bisect import insort",
    "sqrt": "from math import sqrt", "gcd": "from math import gcd", "floor": "from math import floor",
    "ceil": "from math import ceil", "pi": "from math import pi", "factorial": "from math import factorial",
    "List": "from typing import List", "Tuple": "from typing import Tuple",
    "Dict": "from typing import Dict", "Optional": "from typing import Optional",
    "Any": "from typing import Any", "Set": "from typing import Set", "Union": "from typing import Union",
    "itemgetter": "from operator import itemgetter", "datetime": "import datetime",
}
MODULES = {"math", "re", "itertools", "collections", "heapq", "functools", "string", "bisect",
           "operator", "datetime", "statistics", "random", "fractions", "decimal", "cmath",
           "calendar", "json", "sys", "copy", "typing"}
HELPER_NAMES = {"check", "main", "test", "run_tests"}


class ExtractionError(ValueError):
    """The model's answer holds no usable function; the message says why (fed back to it)."""


@dataclass
class Candidate:
    """A clean function source ready for the sandbox."""

    source: str
    name: str
    dependencies: list[str] = field(default_factory=list)
    renamed_from: str | None = None
    standalone: str | None = None
    """The model's own copies of library functions kept, when it wrote any (a fallback)."""
    standalone_dependencies: list[str] = field(default_factory=list)
    unshadowed: list[str] = field(default_factory=list)
    """Local variables renamed because they hid a function the code calls (see `_unshadow`)."""


def code_blocks(text: str) -> list[str]:
    """Return the fenced code blocks of a reply, or the whole reply when there are none."""
    blocks = [body for lang, body in _FENCE.findall(text)
              if lang.lower() in ("", "python", "py", "python3")]
    return blocks or [text]


def _parse_lenient(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except SyntaxError:
        pass
    lines = code.splitlines()
    # Drop leading prose lines until the rest parses.
    for start in range(1, min(len(lines), 30)):
        try:
            return ast.parse("\n".join(lines[start:]))
        except SyntaxError:
            continue
    # Drop trailing lines (an unfinished example after the function).
    for end in range(len(lines) - 1, 0, -1):
        try:
            return ast.parse("\n".join(lines[:end]))
        except SyntaxError:
            continue
    return None


def _is_main_guard(node: ast.stmt) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")


def _collect(blocks: list[str]) -> tuple[dict[str, ast.stmt], list[ast.stmt], list[str], set[str]]:
    """Gather definitions (later ones win), imports, definition order, top-level calls."""
    definitions: dict[str, ast.stmt] = {}
    imports: list[ast.stmt] = []
    order: list[str] = []
    top_calls: set[str] = set()
    for block in blocks:
        tree = _parse_lenient(block)
        if tree is None:
            continue
        for node in tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                     ast.Import, ast.ImportFrom)):
                top_calls |= {n.func.id for n in ast.walk(node)
                              if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                definitions[node.name] = node
                if node.name in order:
                    order.remove(node.name)
                order.append(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.append(node)
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1
                  and isinstance(node.targets[0], ast.Name) and node.targets[0].id.isupper()):
                definitions[node.targets[0].id] = node  # module constants
                if node.targets[0].id in order:
                    order.remove(node.targets[0].id)
                order.append(node.targets[0].id)
    return definitions, imports, order, top_calls


def _arity_fits(node: ast.stmt, arity: int | None) -> bool:
    if arity is None or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    args = node.args
    positional = len(args.posonlyargs) + len(args.args)
    most = positional + len(args.kwonlyargs)  # tests may pass keyword arguments
    return (positional - len(args.defaults) <= arity
            and bool(args.vararg or args.kwarg or arity <= most))


def _trivial(node: ast.stmt) -> bool:
    body = getattr(node, "body", [])
    return all(isinstance(b, (ast.Pass, ast.Expr)) for b in body)


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _free_names(node: ast.AST) -> set[str]:
    """The names a definition reads but does not bind itself: what it needs from outside.

    A local variable that happens to share a library function's name (`word_counts =
    Counter(words)`) is not a call of that function.
    """
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return _names_used(node)
    nodes = list(ast.walk(node))
    bound = {a.arg for a in nodes if isinstance(a, ast.arg)}
    bound |= {n.id for n in nodes if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    bound |= {n.name for n in nodes if n is not node and isinstance(
        n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    bound |= {(a.asname or a.name).split(".")[0] for n in nodes
              if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    bound -= {name for n in nodes if isinstance(n, ast.Global) for name in n.names}
    return {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - bound


class _Renamer(ast.NodeTransformer):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        if node.name == self.old:
            node.name = self.new
        self.generic_visit(node)
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == self.old:
            node.id = self.new
        return node


def _unshadow(node: ast.stmt, functions: set[str]) -> list[str]:
    """Rename the local variables of `node` that hide a function it calls; return their names.

    `counts = counts(text)` makes `counts` local to the whole function, so the call raises
    UnboundLocalError whatever else the function does. Small models write it when they call a
    library function and keep the result under the function's name. Only a name that is
    called no later than its first assignment is renamed (the code could not run otherwise);
    the local becomes `<name>_value` and the calls reach the function again.
    """
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return []
    args = node.args
    params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    nodes = list(ast.walk(node))
    declared = {n for s in nodes if isinstance(s, (ast.Global, ast.Nonlocal)) for n in s.names}
    names = [n for n in nodes if isinstance(n, ast.Name)]
    callees = {id(c.func) for c in nodes if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
    taken = {n.id for n in names} | params
    renamed = []
    for name in sorted(functions - params - declared - {node.name}):
        same = [n for n in names if n.id == name]
        calls = [n.lineno for n in same if id(n) in callees]
        stores = [n.lineno for n in same if isinstance(n.ctx, ast.Store)]
        if not calls or not stores or min(calls) > min(stores):
            continue
        new = f"{name}_value"
        while new in taken:
            new += "_"
        taken.add(new)
        for n in same:
            if id(n) not in callees:
                n.id = new
        renamed.append(name)
    return renamed


def named_calls(tests: list[str]) -> Iterator[ast.Call]:
    """Yield every call of a plain name (`f(...)`) in the tests that parse, in order."""
    for test in tests:
        try:
            tree = ast.parse(test)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                yield node


def infer_entry_point(tests: list[str]) -> str | None:
    """Return the first non-builtin function the tests call."""
    for call in named_calls(tests):
        if not hasattr(builtins, call.func.id):
            return call.func.id
    return None


def call_arity(tests: list[str], name: str) -> int | None:
    """Return how many arguments the tests pass to `name` (first call found)."""
    for call in named_calls(tests):
        if call.func.id == name:
            return len(call.args) + len(call.keywords)
    return None


def extract(text: str, name: str, library_names: set[str] | frozenset[str] = frozenset(),
            arity: int | None = None) -> Candidate:
    """Return the function `name` from a model reply, with what it needs and nothing else."""
    definitions, imports, order, top_calls = _collect(code_blocks(text))
    functions = [n for n in order if isinstance(definitions[n], (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not functions:
        raise ExtractionError("the reply contains no Python function definition")
    renamed_from = None
    if name not in definitions:
        # The model renamed the function: take the last top-level function no other calls.
        called = set().union(*(_names_used(definitions[f]) - {f} for f in functions))
        roots = [f for f in functions if f not in called and f not in HELPER_NAMES
                 and not f.startswith("test")]
        redefined = [f for f in roots if f in library_names]
        # A library function written out again is not the task's function under another name.
        roots = [f for f in roots if f not in library_names]
        if not roots:
            if redefined:
                raise ExtractionError(
                    f"the reply only writes out `{redefined[0]}`, which the library already "
                    f"provides, and does not define `{name}`")
            raise ExtractionError(f"the reply does not define `{name}`")
        if arity is not None and not any(_arity_fits(definitions[f], arity) for f in roots):
            shown = ", ".join(f"`{f}`" for f in roots)
            raise ExtractionError(
                f"the reply does not define `{name}`, and no function it defines ({shown}) "
                f"takes the {arity} argument(s) the tests pass")
        def score(f: str) -> tuple[int, int]:
            node = definitions[f]
            return (2 * (f in top_calls) + _arity_fits(node, arity) - 3 * _trivial(node),
                    -functions.index(f))

        renamed_from = max(roots, key=score)
        renamer = _Renamer(renamed_from, name)
        definitions = {(name if k == renamed_from else k): renamer.visit(v)
                       for k, v in definitions.items()}
    # Keep the target and the local definitions it reaches.
    order = [name if o == renamed_from else o for o in order]
    callables = set(library_names) | set(definitions)
    unshadowed = [v for k in order if k in definitions for v in _unshadow(definitions[k], callables)]

    def assemble(library: set[str]) -> tuple[str, list[str]]:
        """Keep the target, the local definitions it reaches (not those in `library`),
        the imports they use and the ones the model forgot."""
        keep: list[str] = []
        pending = [name]
        while pending:
            current = pending.pop()
            if current in keep:
                continue
            keep.append(current)
            for used in _free_names(definitions[current]):
                if used in definitions and used not in keep and used not in library - {current}:
                    pending.append(used)
        used_names: set[str] = set()
        for kept in keep:
            used_names |= _free_names(definitions[kept])
        dependencies = sorted((used_names & library) - set(keep))
        import_lines: list[str] = []
        bound: set[str] = set()
        for node in imports:
            names = {(a.asname or a.name).split(".")[0] for a in node.names}
            if names & used_names or any(a.name == "*" for a in node.names):
                line = ast.unparse(node)
                if line not in import_lines:
                    import_lines.append(line)
                bound |= names
        defined = set(definitions) | bound | set(dir(builtins))
        for missing in sorted(used_names - defined - library):
            if missing in KNOWN_IMPORTS:
                import_lines.append(KNOWN_IMPORTS[missing])
            elif missing in MODULES:
                import_lines.append(f"import {missing}")
        body = [ast.unparse(definitions[k]) for k in sorted(keep, key=order.index)]
        return ("\n".join(import_lines) + ("\n\n" if import_lines else "")
                + "\n\n".join(body) + "\n", dependencies)

    # Prefer the verified library version of a function the model also wrote itself ...
    source, dependencies = assemble(set(library_names))
    # ... but keep the model's own copies as a fallback when their behaviour differs.
    standalone, standalone_deps = assemble(set(library_names) - set(definitions))
    fallback = standalone if standalone != source else None
    return Candidate(source=source, name=name, dependencies=dependencies, renamed_from=renamed_from,
                     standalone=fallback, standalone_dependencies=standalone_deps,
                     unshadowed=unshadowed)
