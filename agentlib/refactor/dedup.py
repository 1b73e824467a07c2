"""Behavioural dedup: modules that compute the same function are merged into one.

Two active modules are compared when they are near by embedding and take the same arguments.
They are run side by side in the sandbox (never in this process) on the union of their
tests' inputs plus inputs generated from those inputs' types; they are equal when every
input gives the same outcome — the same value of the same type, or the same exception type —
and at least one stored input returns normally.

The canonical module of a group is the most reused (then the most depended on, the
shortest, the oldest). Each other module gets a new version that is a thin alias,
`def old(a, b): return canonical(a, b)`, with its own signature, tests and task: its name
keeps working for callers and dependents, retrieval still finds it by its old task, and its
previous code stays in `history` (superseded, recoverable). The aliases are verified against
their stored tests and stored all or none.
"""

from __future__ import annotations

import ast

from agentlib.code import (
    Call,
    accepts,
    docstring,
    find_function,
    module_id,
    named_calls,
    program_source,
    signature,
)
from agentlib.errors import TaskFormatError
from agentlib.library.store import embedding_text
from agentlib.model import Module, TestCase
from agentlib.refactor.commit import commit, recover
from agentlib.refactor.programs import closure, first_failure, run_stored_tests, source_lines
from agentlib.refactor.records import Merge
from agentlib.sandbox import Limits, run
from agentlib.sandbox.cases import python_literal

MAX_DISTANCE = 0.6
"""Cosine distance within which two modules are compared at all."""
MAX_INPUTS = 40

OUTCOME = '''

def _agentlib_outcome(function, *args):
    import copy

    try:
        value = function(*copy.deepcopy(args))
    except Exception as exc:
        return ("raised", type(exc).__name__)
    return ("returned", type(value).__name__, value)
'''


def test_inputs(tests: list[str], name: str) -> list[tuple]:
    """Return the literal positional argument tuples the tests pass to `name`."""
    found: list[tuple] = []
    for node in named_calls(tests):
        if node.func.id == name and not node.keywords:
            try:
                args = tuple(ast.literal_eval(a) for a in node.args)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if args not in found:
                found.append(args)
    return found


def _variants(value) -> list:
    if type(value) is bool:
        return [not value]
    if type(value) is int:
        return [0, 1, -1, 2, 7, 100, value + 1, value - 1, -value]
    if type(value) is float:
        return [0.0, 1.5, -2.25, value * 2]
    if type(value) is str:
        return ["", "a", "Hello World", "racecar", value[::-1], value.upper(), value + value]
    if type(value) in (list, tuple):
        kind = type(value)
        return [kind(), kind(value[:1]), kind(reversed(value)), kind(value) + kind(value)]
    if type(value) is dict:
        return [{}]
    return []


def generated_inputs(inputs: list[tuple], limit: int = MAX_INPUTS) -> list[tuple]:
    """Return new argument tuples: each observed one with one argument varied (same type)."""
    extra: list[tuple] = []
    for args in inputs:
        for position, value in enumerate(args):
            for variant in _variants(value):
                candidate = args[:position] + (variant,) + args[position + 1:]
                if candidate not in inputs and candidate not in extra:
                    extra.append(candidate)
    return extra[:limit]


def _literal_args(args: tuple) -> str | None:
    try:
        return ", ".join(python_literal(a) for a in args)
    except TaskFormatError:  # a value with no literal form cannot be written into a test
        return None


def behave_alike(library, a: Module, b: Module, limits: Limits | None = None) -> int:
    """Return how many inputs `a` and `b` agree on (0: they differ or cannot be compared)."""
    if not _same_arguments(a, b):
        return 0
    stored = test_inputs(a.tests, a.name) + [i for i in test_inputs(b.tests, b.name)
                                             if i not in test_inputs(a.tests, a.name)]
    if not stored:
        return 0
    inputs = stored + generated_inputs(stored)
    program = program_source(closure(library, a) + closure(library, b)) + OUTCOME
    cases, returned = [], []
    for args in inputs:
        shown = _literal_args(args)
        if shown is None:
            continue
        extra = f", {shown}" if shown else ""
        cases.append(TestCase(f"assert _agentlib_outcome({a.name}{extra}) == "
                              f"_agentlib_outcome({b.name}{extra})"))
        if args in stored:
            returned.append(TestCase(f"assert _agentlib_outcome({a.name}{extra})[0] == 'returned'"))
    if not cases:
        return 0
    verdict = run(program, cases + returned, limits)
    same = verdict.results[:len(cases)]
    normal = verdict.results[len(cases):]
    if verdict.ended != "ok" or not all(r.passed for r in same) or not any(r.passed for r in normal):
        return 0
    return len(cases)


def _same_arguments(a: Module, b: Module, most: int = 8) -> bool:
    """Tell whether `a` and `b` accept the same numbers of positional arguments (0..most)."""
    fa, fb = find_function(a.source, a.name), find_function(b.source, b.name)
    if fa is None or fb is None:
        return fa is fb
    return all(accepts(fa, Call(n)) == accepts(fb, Call(n)) for n in range(most + 1))


def alias_source(old: Module, canonical: str) -> str:
    """Return `def old(<its parameters>): return canonical(<them>)`."""
    node = find_function(old.source, old.name)
    params = node.args
    call = [a.arg for a in params.posonlyargs + params.args]
    if params.vararg:
        call.append(f"*{params.vararg.arg}")
    call += [f"{a.arg}={a.arg}" for a in params.kwonlyargs]
    if params.kwarg:
        call.append(f"**{params.kwarg.arg}")
    params = ast.arguments(posonlyargs=params.posonlyargs, args=params.args, vararg=params.vararg,
                           kwonlyargs=params.kwonlyargs, kw_defaults=params.kw_defaults,
                           kwarg=params.kwarg, defaults=params.defaults)
    for arg in params.posonlyargs + params.args + params.kwonlyargs:
        arg.annotation = None
    text = f"Alias of {canonical} (same behaviour, merged by dedup)."
    return (f"def {old.name}({ast.unparse(params)}):\n    {text!r}\n"
            f"    return {canonical}({', '.join(call)})\n")


def _groups(pairs: list[tuple[str, str]]) -> list[list[str]]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for name in parent:
        groups.setdefault(find(name), []).append(name)
    return [sorted(g) for g in groups.values() if len(g) > 1]


def dedup(library, *, dry_run: bool = False, max_distance: float = MAX_DISTANCE,
          limits: Limits | None = None) -> list[Merge]:
    """Merge behaviourally equal active modules into aliases of one canonical module."""
    recover(library)
    active = {m.name: m for m in library.list()}
    candidates: set[tuple[str, str]] = set()
    for module in active.values():
        for other, distance in library.search(embedding_text(module), k=6):
            if other.name != module.name and distance <= max_distance:
                candidates.add(tuple(sorted((module.name, other.name))))
    equal: list[tuple[str, str]] = []
    compared: dict[tuple[str, str], int] = {}
    for a, b in sorted(candidates):
        if b in _deps(library, active[a]) or a in _deps(library, active[b]):
            continue  # one already calls the other (an alias, or a real composition)
        agreed = behave_alike(library, active[a], active[b], limits)
        if agreed:
            equal.append((a, b))
            compared[(a, b)] = agreed
    merges = []
    for group in _groups(equal):
        canonical = min(group, key=lambda n: (-active[n].times_reused,
                                              -len(library.dependents(n)),
                                              source_lines(active[n].source),
                                              active[n].created_at, n))
        aliases = [n for n in group if n != canonical]
        inputs = max(v for k, v in compared.items() if set(k) <= set(group))
        merge = Merge(canonical, aliases, inputs)
        versions = [_alias_module(active[n], canonical) for n in aliases]
        failures = [f for f in (_alias_failure(library, v, active[canonical]) for v in versions) if f]
        merge.reason = failures[0] if failures else "verified"
        if not failures and not dry_run:
            commit(library, versions)
            merge.committed = True
        merges.append(merge)
    return merges


def _deps(library, module: Module) -> set[str]:
    return {m.name for m in closure(library, module)} - {module.name}


def _alias_module(old: Module, canonical: str) -> Module:
    source = alias_source(old, canonical)
    return Module(id=module_id(source), name=old.name, source=source,
                  signature=signature(source, old.name), docstring=docstring(source, old.name),
                  tests=list(old.tests), dependencies=[canonical], task_prompt=old.task_prompt,
                  task_id=old.task_id, backend="dedup", model=f"alias of {canonical}",
                  times_retrieved=old.times_retrieved, times_reused=old.times_reused,
                  times_failed=old.times_failed)


def _alias_failure(library, alias: Module, canonical: Module) -> str:
    """Return why the alias fails its stored tests ('' when it passes them all)."""
    program = program_source(closure(library, canonical) + [alias])
    return first_failure(run_stored_tests(program, alias))
