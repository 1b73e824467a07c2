"""Turn what a small model really writes into one clean candidate function.

Models wrap code in prose, emit several blocks, add their own asserts, prints or `check()`
calls, forget imports and rename the function. Everything here works on the `ast`.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field

from agentlib.code.calls import Call, accepts
from agentlib.code.names import FUNCTIONS, dependencies, free_names, names_used
from agentlib.code.rename import rename, unshadow_locals
from agentlib.model import RejectionKind

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

    def __init__(self, kind: RejectionKind, reason: str) -> None:
        super().__init__(reason)
        self.kind: RejectionKind = kind


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
    """Local variables renamed because they hid a function the code calls."""


def code_blocks(text: str) -> list[str]:
    """Return the fenced code blocks of a reply, or the whole reply when there are none."""
    blocks = [body for lang, body in _FENCE.findall(text)
              if lang.lower() in ("", "python", "py", "python3")]
    return blocks or [text]


def parse_lenient(code: str) -> ast.Module | None:
    """Parse code, dropping leading prose or an unfinished tail until it parses (None: never)."""
    try:
        return ast.parse(code)
    except SyntaxError:
        pass
    lines = code.splitlines()
    for start in range(1, min(len(lines), 30)):
        try:
            return ast.parse("\n".join(lines[start:]))
        except SyntaxError:
            continue
    for end in range(len(lines) - 1, 0, -1):
        try:
            return ast.parse("\n".join(lines[:end]))
        except SyntaxError:
            continue
    return None


def reply_functions(text: str) -> list[str]:
    """Return the names of the top-level functions a reply's code blocks define, in order."""
    names: list[str] = []
    for block in code_blocks(text):
        try:
            tree = ast.parse(block)
        except SyntaxError:
            continue
        names += [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    return list(dict.fromkeys(names))


def _collect(blocks: list[str]) -> tuple[dict[str, ast.stmt], list[ast.stmt], list[str], set[str]]:
    """Gather definitions (later ones win), imports, definition order, top-level calls."""
    definitions: dict[str, ast.stmt] = {}
    imports: list[ast.stmt] = []
    order: list[str] = []
    top_calls: set[str] = set()
    for block in blocks:
        tree = parse_lenient(block)
        if tree is None:
            continue
        for node in tree.body:
            if not isinstance(node, (*FUNCTIONS, ast.ClassDef, ast.Import, ast.ImportFrom)):
                top_calls |= {n.func.id for n in ast.walk(node)
                              if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
            if isinstance(node, (*FUNCTIONS, ast.ClassDef)):
                key = node.name
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.append(node)
                continue
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1
                  and isinstance(node.targets[0], ast.Name) and node.targets[0].id.isupper()):
                key = node.targets[0].id  # module constants
            else:
                continue
            definitions[key] = node
            if key in order:
                order.remove(key)
            order.append(key)
    return definitions, imports, order, top_calls


def _fits(node: ast.stmt, call: Call | None) -> bool:
    return call is not None and isinstance(node, FUNCTIONS) and accepts(node, call)


def _trivial(node: ast.stmt) -> bool:
    body = getattr(node, "body", [])
    return all(isinstance(b, (ast.Pass, ast.Expr)) for b in body)


def _task_function(name: str, definitions: dict[str, ast.stmt], functions: list[str],
                   top_calls: set[str], library_names: set[str], call: Call | None) -> str:
    """The function a reply that does not define `name` meant as it: the last top-level
    function no other calls (ExtractionError when there is none that could be)."""
    called = set().union(*(names_used(definitions[f]) - {f} for f in functions))
    roots = [f for f in functions if f not in called and f not in HELPER_NAMES
             and not f.startswith("test")]
    redefined = [f for f in roots if f in library_names]
    # A library function written out again is not the task's function under another name.
    roots = [f for f in roots if f not in library_names]
    if not roots:
        if redefined:
            raise ExtractionError(
                "rewrites_library", f"the reply only writes out `{redefined[0]}`, which the "
                f"library already provides, and does not define `{name}`")
        raise ExtractionError("unparseable", f"the reply does not define `{name}`")
    if call is not None and not any(_fits(definitions[f], call) for f in roots):
        shown = ", ".join(f"`{f}`" for f in roots)
        raise ExtractionError(
            "arity", f"the reply does not define `{name}`, and no function it defines "
            f"({shown}) takes the {call.count} argument(s) the tests pass")

    def score(f: str) -> tuple[int, int]:
        node = definitions[f]
        return (2 * (f in top_calls) + _fits(node, call) - 3 * _trivial(node),
                -functions.index(f))

    return max(roots, key=score)


def extract(text: str, name: str, library_names: set[str] | frozenset[str] = frozenset(),
            call: Call | None = None) -> Candidate:
    """Return the function `name` from a model reply, with what it needs and nothing else.

    `library_names` are the library modules the code may call; `call` is how the tests
    call `name` (a renamed function must accept it).
    """
    definitions, imports, order, top_calls = _collect(code_blocks(text))
    functions = [n for n in order if isinstance(definitions[n], FUNCTIONS)]
    if not functions:
        raise ExtractionError("unparseable", "the reply contains no Python function definition")
    renamed_from = None
    if name not in definitions:
        renamed_from = _task_function(name, definitions, functions, top_calls,
                                      set(library_names), call)
        definitions = {(name if k == renamed_from else k): rename(v, renamed_from, name)
                       for k, v in definitions.items()}
    order = [name if o == renamed_from else o for o in order]
    callables = set(library_names) | set(definitions)
    unshadowed = [v for k in order if k in definitions
                  for v in unshadow_locals(definitions[k], callables)]

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
            for used in free_names(definitions[current]):
                if used in definitions and used not in keep and used not in library - {current}:
                    pending.append(used)
        used_names: set[str] = set()
        for kept in keep:
            used_names |= free_names(definitions[kept])
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
        source = ("\n".join(import_lines) + ("\n\n" if import_lines else "")
                  + "\n\n".join(body) + "\n")
        return source, dependencies(source, library)

    # Prefer the verified library version of a function the model also wrote itself ...
    source, deps = assemble(set(library_names))
    # ... but keep the model's own copies as a fallback when their behaviour differs.
    standalone, standalone_deps = assemble(set(library_names) - set(definitions))
    fallback = standalone if standalone != source else None
    return Candidate(source=source, name=name, dependencies=deps, renamed_from=renamed_from,
                     standalone=fallback, standalone_dependencies=standalone_deps,
                     unshadowed=unshadowed)
