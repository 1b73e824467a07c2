"""Module packs: functions with their tests, shipped by plugins and re-verified on install.

A pack is untrusted input: every entry is parsed, checked to define the function it names,
run against its own tests in the sandbox (and against the tests of the active module it
would replace), and passed through the registered validators before it is stored.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from agentlib.errors import AgentlibError, PluginError
from agentlib.model import Module, TestCase

PACK_BACKEND = "pack"


@dataclass(frozen=True)
class PackEntry:
    """One function of a module pack: self-contained source, its tests, a docstring."""

    name: str
    source: str
    tests: tuple[str, ...]
    docstring: str = ""


@dataclass
class PackReport:
    """What installing a pack did, entry by entry."""

    pack: str
    accepted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    """(entry name, why it was refused)."""


def entry_from(raw: Any, index: int) -> PackEntry:
    """Build a PackEntry from a mapping or a PackEntry; raise PluginError saying what is wrong."""
    if isinstance(raw, PackEntry):
        return raw
    if not isinstance(raw, Mapping):
        raise PluginError(f"entry {index} is a {type(raw).__name__}, not a mapping with "
                          "name, source and tests")
    name, source, tests = raw.get("name"), raw.get("source"), raw.get("tests")
    if not isinstance(name, str) or not name.isidentifier():
        raise PluginError(f"entry {index}: 'name' must be a function name, not {name!r}")
    if not isinstance(source, str) or not source.strip():
        raise PluginError(f"entry {index} ({name}): 'source' must be Python source text")
    if (not isinstance(tests, (list, tuple)) or not tests
            or not all(isinstance(t, str) for t in tests)):
        raise PluginError(f"entry {index} ({name}): 'tests' must be a non-empty list of "
                          "assert statements")
    docstring = raw.get("docstring") or ""
    if not isinstance(docstring, str):
        raise PluginError(f"entry {index} ({name}): 'docstring' must be a string")
    return PackEntry(name, source, tuple(tests), docstring)


def load_pack(loaders: dict[str, Callable[[], Any]],
              pack: str) -> list[PackEntry | tuple[str, str]]:
    """Run the pack's loader; return its entries, or (name, reason) for a malformed one.

    `loaders` are the registered packs ({name: loader}, `Runtime.packs`).
    """
    if pack not in loaders:
        known = ", ".join(sorted(loaders)) or "none"
        raise PluginError(f"no module pack named {pack!r} (installed packs: {known}); "
                          f"install the plugin that provides it, e.g. `pip install {pack}`")
    try:
        raw = loaders[pack]()
        items = list(raw)
    except (Exception, SystemExit) as exc:  # the loader is a plugin's code
        raise PluginError(f"module pack {pack!r} failed to load: "
                          f"{type(exc).__name__}: {exc}") from exc
    found: list[PackEntry | tuple[str, str]] = []
    for index, item in enumerate(items):
        try:
            found.append(entry_from(item, index))
        except PluginError as exc:
            name = item.get("name") if isinstance(item, Mapping) else None
            found.append((str(name or f"entry {index}"), str(exc)))
    return found


def _static_problem(entry: PackEntry) -> str | None:
    from agentlib.code import find_function
    from agentlib.sandbox import assert_case

    try:
        if find_function(entry.source, entry.name) is None:
            return f"the source does not define a top-level function {entry.name}()"
    except (SyntaxError, ValueError) as exc:
        return f"the source does not parse: {exc}"
    for test in entry.tests:
        try:
            assert_case(test)
        except AgentlibError as exc:
            return str(exc)
        if entry.name not in {n.id for n in ast.walk(ast.parse(test)) if isinstance(n, ast.Name)}:
            return f"the test {test!r} does not call {entry.name}"
    return None


def verify_entry(entry: PackEntry, old_tests: list[str], limits: Any,
                 validate: Callable[[str, str, list[str]], list[str]] | None) -> str | None:
    """Return why `entry` is refused, or None when it passes every check."""
    from agentlib.sandbox import run

    problem = _static_problem(entry)
    if problem:
        return problem
    verdict = run(entry.source, [TestCase(t) for t in entry.tests], limits)
    if not verdict.passed:
        first = verdict.failures[0] if verdict.failures else None
        why = f"{first.test}: {first.error_type}: {first.message.splitlines()[0] if first.message else ''}" \
            if first else f"the sandbox ended with {verdict.ended}: {verdict.detail}"
        return f"fails its own tests in the sandbox ({why})"
    if old_tests:
        verdict = run(entry.source, [TestCase(t) for t in old_tests], limits)
        if not verdict.passed:
            return (f"would replace the active module {entry.name} but fails "
                    f"{len(verdict.failures) or 'its'} of its tests")
    if validate is not None:
        rejections = validate(entry.source, entry.name, list(entry.tests))
        if rejections:
            return "rejected by " + "; ".join(rejections)
    return None


def module_for(entry: PackEntry, pack: str) -> Module:
    """Build the library record of a verified pack entry."""
    from agentlib.code import docstring, module_id, signature

    doc = entry.docstring or docstring(entry.source, entry.name)
    return Module(id=module_id(entry.source), name=entry.name, source=entry.source,
                  signature=signature(entry.source, entry.name), docstring=doc,
                  tests=list(entry.tests), task_prompt=doc or f"{entry.name} from {pack}",
                  task_id=f"pack:{pack}", backend=PACK_BACKEND, model=pack,
                  created_at=time.time())


def install_pack(library: Any, loaders: dict[str, Callable[[], Any]], pack: str, *,
                 limits: Any = None,
                 validate: Callable[[str, str, list[str]], list[str]] | None = None,
                 ) -> PackReport:
    """Verify every entry of `pack` in the sandbox and store those that pass in `library`.

    `loaders` are the registered packs (`Runtime.packs`); `validate` (e.g.
    `Runtime.validate`) runs the validator plugins on each entry that passed its tests.
    """
    from agentlib.code import module_id
    from agentlib.sandbox import Limits, run

    limits = limits or Limits()
    report = PackReport(pack)
    todo: list[tuple[PackEntry, Module | None]] = []
    for item in load_pack(loaders, pack):
        if isinstance(item, tuple):
            report.rejected.append(item)
            continue
        try:
            same = library.get_by_id(module_id(item.source))
        except (SyntaxError, ValueError) as exc:
            report.rejected.append((item.name, f"the source does not parse: {exc}"))
            continue
        if same is not None and same.status == "active" and same.name == item.name:
            report.unchanged.append(item.name)
            continue
        todo.append((item, library.get(item.name)))
    with ThreadPoolExecutor(max_workers=2) as pool:  # no lock held: readers go on
        reasons = list(pool.map(lambda job: verify_entry(
            job[0], job[1].tests if job[1] is not None else [], limits, validate), todo))
    fresh: list[Module] = []

    def check(program: str, tests: list[str]) -> bool:
        return run(program, [TestCase(t) for t in tests], limits).passed

    for (entry, active), reason in zip(todo, reasons, strict=True):
        if reason is not None:
            report.rejected.append((entry.name, reason))
        elif active is not None:  # supersedes the module it passed the tests of, if still so
            done = library.commit(module_for(entry, pack), check, verified_program=entry.source,
                                  verified_against=active.id, rename=False)
            if done.module is None:
                report.rejected.append((entry.name, done.detail))
            else:
                report.accepted.append(entry.name)
        else:
            fresh.append(module_for(entry, pack))
    if fresh:  # one batch: embedded together, stored all or nothing
        from agentlib.library.bulk import commit_new
        from agentlib.library.text import embedding_text

        vectors = [list(v) for v in library.embedder.embed([embedding_text(m) for m in fresh])]
        refused = commit_new(library, fresh, vectors, [m.source for m in fresh], check)
        for module in fresh:
            if module.id in refused:
                report.rejected.append((module.name, refused[module.id]))
            else:
                report.accepted.append(module.name)
    return report
