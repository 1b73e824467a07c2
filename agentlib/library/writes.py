"""The write path: verify outside the lock, commit under it, re-check at commit.

Every write that makes a module active goes through here (`Library.commit`, `add`) or
through `agentlib.library.bulk` (`add_many`, imports, packs); both write with
`agentlib.library.persist`; counters are batched by `agentlib.library.counters`. Slow work
(running tests in the sandbox, embedding) happens first, without the write lock, so readers
and other writers go on meanwhile. The commit then takes the lock (embedded) or claims a slot (a server,
`agentlib.library.claims`) only for the write, and re-checks what the verification depended
on: the active version of the name and the program the module makes with its dependencies.
If either changed, the module is verified again against the new state (and, by `commit`'s
choice, stored under a new name when it fails the new predecessor's tests).
"""

from __future__ import annotations

import ast
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from agentlib.code import (
    DependencyError,
    dependencies,
    dependency_closure,
    dependency_problems,
    docstring,
    external_names,
    module_id,
    rename_source,
    signature,
)
from agentlib.errors import StoreError
from agentlib.library import claims
from agentlib.library.claims import Head
from agentlib.library.persist import upsert, write_fields
from agentlib.library.text import embedding_text
from agentlib.model import Module

MAX_ROUNDS = 20
"""A commit that finds the library changed this many times in a row gives up (StoreError)."""

Check = Callable[[str, list[str]], bool]
"""check(program, tests) -> True when every test passes on the program (in the sandbox)."""


def sandbox_check(limits=None) -> Check:
    """The default check: run the tests on the program in the sandbox."""

    def check(program: str, tests: list[str]) -> bool:
        from agentlib.model import TestCase
        from agentlib.sandbox import run

        return run(program, [TestCase(t) for t in tests], limits).passed

    return check


@dataclass
class Committed:
    """What a commit did: the stored record, and what it superseded or why it stored nothing."""

    module: Module | None
    """The stored record (the one already stored, for the same code); None: nothing stored."""
    superseded: Module | None = None
    renamed_from: str = ""
    """The name asked for, when the module was stored under another one."""
    merged: bool = False
    """The same code was already stored: only its tests were merged."""
    detail: str = ""
    """Why nothing was stored, or why it was renamed."""
    rounds: int = 1
    """How often the library was read and verified against (more than 1: it changed)."""


def renamed(module: Module, new: str) -> Module:
    """The module with its function (and its tests' calls) renamed to `new`."""
    source = rename_source(module.source, module.name, new)
    return replace(module, id=module_id(source), name=new, source=source,
                   signature=signature(source, new), docstring=docstring(source, new),
                   tests=[rename_source(t, module.name, new).strip() for t in module.tests])


def _free_name(library: Any, name: str, tried: set[str]) -> str:
    n = 2
    while f"{name}_{n}" in tried or library.get(f"{name}_{n}") is not None:
        n += 1
    return f"{name}_{n}"


def same_program(a: str | None, b: str | None) -> bool:
    """True when two programs define the same code (layout and order of definitions aside):
    what was verified is what would be stored."""
    if a is None or b is None:
        return a is b
    if a == b:
        return True
    try:
        return sorted(ast.dump(n) for n in ast.parse(a).body) == \
            sorted(ast.dump(n) for n in ast.parse(b).body)
    except SyntaxError:
        return False


def program_of(library: Any, module: Module) -> str | None:
    try:
        return library.program_for(module)
    except (StoreError, DependencyError):
        return None


def set_dependencies(library: Any, module: Module) -> None:
    """Set the module's dependencies by the rule; refuse a wrong listed one or a cycle."""
    try:
        names = external_names(module.source)
    except SyntaxError:
        names = set()  # dependency_problems says so
    active = library.active_names((names | set(module.dependencies)) - {module.name})
    problems = dependency_problems(module.source, module.dependencies, active, module.name)
    if problems:
        raise StoreError("; ".join(problems))
    module.dependencies = dependencies(module.source, active)
    try:
        dependency_closure(module.dependencies, library.get, needed_by=module.name)
    except DependencyError as exc:
        raise StoreError(f"refusing to store {module.name}: {exc}") from exc


def commit(library: Any, module: Module, check: Check | None = None, *,
           verified_program: str | None = None, verified_against: str = "",
           rename: bool = True) -> Committed:
    """Store `module` as the active version of its name, never superseding untested.

    `check` runs tests on a program (default: the sandbox). A module replacing an active
    version must pass that version's tests; when it does not, it is stored under the first
    free name NAME_2, NAME_3 … (`rename`) or not at all. `verified_program` is the program the
    caller ran the module's own tests on: if the module's dependencies now make another
    program, its own tests run again. Without it the caller vouches for its own tests.
    `verified_against` is the id of an active version whose tests the caller already ran.
    """
    library.conn.refuse_writes()
    check = check or sandbox_check()
    wanted = module.name
    candidate = replace(module, tests=list(module.tests), dependencies=list(module.dependencies))
    vector: list[float] | None = None
    passed: set[str] = {verified_against} - {""}
    tried: set[str] = set()
    for rounds in range(1, MAX_ROUNDS + 1):
        existing = library.get_by_id(candidate.id)
        if existing is not None:
            return _merge_tests(library, existing, candidate, rounds)
        head = library.head(candidate.name)
        previous = head.active
        set_dependencies(library, candidate)
        program = program_of(library, candidate)
        if program is None:
            raise StoreError(f"refusing to store {candidate.name}: its dependencies "
                             f"{candidate.dependencies} do not resolve")
        if verified_program is not None and not same_program(program, verified_program):
            if not check(program, candidate.tests):
                return Committed(None, detail=f"{candidate.name} no longer passes its own "
                                 "tests with the library as it is now (a dependency changed)",
                                 rounds=rounds)
            verified_program = program
        if previous is not None and previous.id not in passed:
            if check(program, previous.tests):
                passed.add(previous.id)
            elif rename:
                tried.add(candidate.name)
                new = _free_name(library, wanted, tried)
                candidate, vector = renamed(candidate, new), None
                verified_program = None  # renaming keeps what the code does
                continue
            else:
                return Committed(None, detail=f"would replace the active {previous.name} "
                                 f"v{previous.version} but fails its tests", rounds=rounds)
        if vector is None:
            vector = library.embed(embedding_text(candidate))
        if apply_version(library, candidate, vector, head, program):
            detail = ""
            if candidate.name != wanted:
                detail = (f"{wanted} exists and this version fails its tests: stored as "
                          f"{candidate.name}")
            return Committed(candidate, previous, wanted if candidate.name != wanted else "",
                             detail=detail, rounds=rounds)
    raise StoreError(f"{wanted}: the library changed {MAX_ROUNDS} times while storing it; "
                     "try again")


def _merge_tests(library: Any, existing: Module, candidate: Module,
                 rounds: int) -> Committed:
    """The same code is stored already: add the new tests to it, store nothing else."""
    merged = list(dict.fromkeys(existing.tests + candidate.tests))
    if merged != existing.tests:
        with library.write_transaction():
            fresh = library.get_by_id(existing.id) or existing
            fresh.tests = list(dict.fromkeys(fresh.tests + candidate.tests))
            write_fields(library, [fresh], ["tests"])
            existing = fresh
    return Committed(existing, merged=True, rounds=rounds,
                     detail=f"this code is already stored as {existing.name} "
                            f"v{existing.version} ({existing.status})")


def next_version(library: Any, name: str) -> int:
    """One more than the highest version `name` ever had (1 for a new name)."""
    return max((m.version for m in library.history(name)), default=0) + 1


def _take_version(library: Any, module: Module) -> None:
    module.version = next_version(library, module.name)
    module.status = "active"
    module.created_at = module.created_at or time.time()


def apply_version(library: Any, candidate: Module, vector: list[float], head: Head,
                  program: str) -> bool:
    """Store `candidate` if the name still stands where it was verified; False: it moved."""
    if library.conn.server:
        if not same_program(program_of(library, candidate), program):
            return False
        _take_version(library, candidate)
        return claims.claim(library, candidate, vector, head.slot + 1, head.active)
    with library.write_transaction():
        current = library.get(candidate.name)
        if library.get_by_id(candidate.id) is not None or \
                (current.id if current else None) != (head.active.id if head.active else None) \
                or not same_program(program_of(library, candidate), program):
            return False
        _take_version(library, candidate)
        batch: list[Module] = [candidate]
        vectors: list[list[float] | None] = [vector]
        if current is not None:
            current.status = "superseded"
            batch.insert(0, current)
            vectors.insert(0, None)
        upsert(library, batch, vectors)
        return True


def remove(library: Any, name: str, force: bool) -> list[str]:
    """`Library.remove`: mark the active `name` pruned, unless others need it (or `force`)."""
    with library.write_transaction():
        module = library.get(name)
        if module is None:
            raise StoreError(f"no active module named {name!r}; see `agentlib lib list`")
        broken = library.dependents(name)
        if broken and not force:
            raise StoreError(f"{name} is needed by {', '.join(broken)}; removing it would "
                             "break them. Use --force to remove it anyway")
        module.status = "pruned"
        write_fields(library, [module], ["status"])
        return broken


def revive(library: Any, module: Module) -> None:
    """`Library.revive`: make a pruned module active again; on a server, by claiming a slot."""
    with library.write_transaction():
        head = library.head(module.name)
        if head.active is not None:
            raise StoreError(f"{module.name} has an active version; it cannot be revived")
        missing = sorted(set(module.dependencies)
                         - library.active_names(set(module.dependencies)))
        if missing:
            raise StoreError(f"{module.name} needs {', '.join(missing)}, not active")
        if not library.conn.server:
            module.status = "active"
            write_fields(library, [module], ["status"])
            return
        got = library.modules.get(ids=[module.id], include=["embeddings"])
        if not claims.claim(library, module, list(got["embeddings"][0]), head.slot + 1, None,
                            "revive"):
            raise StoreError(f"{module.name} was stored by another writer meanwhile; it was "
                             "not revived")


def set_statuses(library: Any, statuses: dict[str, str], delete: list[str]) -> None:
    """`Library.set_statuses`: set statuses by id in one write, then delete `delete`."""
    allowed = {"active", "superseded", "pruned"}
    if set(statuses.values()) - allowed:
        raise StoreError(f"unknown status in {sorted(set(statuses.values()))}; "
                         f"use {sorted(allowed)}")
    with library.conn.write():  # the generation bump makes every reader reload its index
        if statuses:
            ids = list(statuses)
            library.modules.update(ids=ids, metadatas=[{"status": statuses[i]} for i in ids])
        if delete:
            library.modules.delete(ids=list(delete))
        library.forget_index()
