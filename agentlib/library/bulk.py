"""Bulk writes (an import, a pack): many new names at once, verified before, re-checked at commit.

Embedded, the whole batch is checked and written under one hold of the write lock (in chunks
of 1000, Chroma's cap on one write). On a server each new active name claims its first free
slot (`agentlib.library.claims`), dependencies before the modules that call them, so two
imports that share names store each name once and never a module whose dependency is
another writer's version.
"""

from __future__ import annotations

import time
from typing import Any

from agentlib.code import (
    DependencyError,
    dependencies,
    dependency_problems,
    module_closure,
    program_source,
)
from agentlib.errors import StoreError
from agentlib.library import claims
from agentlib.library.persist import add, upsert
from agentlib.library.records import fetch_all
from agentlib.library.writes import (
    MAX_ROUNDS,
    Check,
    next_version,
    same_program,
    sandbox_check,
)
from agentlib.model import Module

STORED_MEANWHILE = "stored meanwhile by another writer"
"""The reason `commit_new` gives for a module another writer stored first (same code)."""


def add_many(library: Any, modules: list[Module], vectors: list[list[float]] | None,
             batch: int) -> int:
    """`Library.add_many`: refuse before writing what cannot be stored, then store in batches."""
    from agentlib.library.text import embedding_text

    if vectors is not None and len(vectors) != len(modules):
        raise StoreError(f"{len(modules)} modules but {len(vectors)} vectors")
    library.conn.refuse_writes()
    known = set(fetch_all(library.modules, [])["ids"])
    active = {m.name for m in library.list()}
    keep = [i for i, m in enumerate(modules) if m.id not in known]
    seen: set[str] = set()
    for i in keep:
        module = modules[i]
        if module.name in active or module.name in seen:
            raise StoreError(f"{module.name} is already an active module; store new "
                             "versions one at a time with add()")
        problems = dependency_problems(module.source, module.dependencies, active | seen,
                                       module.name)
        if problems:
            raise StoreError(problems[0])
        module.dependencies = dependencies(module.source, active | seen)
        seen.add(module.name)
    fresh = [modules[i] for i in keep]
    if vectors is None:  # embedded before any lock is taken
        found = [list(v) for v in library.embedder.embed([embedding_text(m) for m in fresh])] \
            if fresh else []
    else:
        found = [list(vectors[i]) for i in keep]
    refused: dict[str, str] = {}
    for start in range(0, len(fresh), batch):
        chunk = slice(start, start + batch)
        refused.update(commit_new(library, fresh[chunk], found[chunk],
                                  [None] * len(fresh[chunk])))
    if refused:
        raise StoreError(f"stored {len(fresh) - len(refused)} of {len(fresh)} module(s); "
                         "refused (another writer was first): "
                         + "; ".join(f"{i}: {why}" for i, why in sorted(refused.items())))
    return len(fresh)


def commit_new(library: Any, modules: list[Module], vectors: list[list[float]],
               programs: list[str | None], check: Check | None = None) -> dict[str, str]:
    """Store modules in bulk (an import, a pack); return {id: why it was refused}.

    Active ones must take names that are not active; inactive ones (history) are added as
    they are. `programs[i]` is the program module i's tests passed on (None: trusted); one
    whose dependencies make another program at commit is checked again first. A module
    whose dependency in the batch was refused is refused too.
    """
    library.conn.refuse_writes()
    check = check or sandbox_check()
    refused: dict[str, str] = {}
    todo = list(range(len(modules)))
    for _ in range(MAX_ROUNDS):
        stale = apply_new(library, [modules[i] for i in todo], [vectors[i] for i in todo],
                                  [programs[i] for i in todo], refused)
        if not stale:
            return refused
        by_id = {modules[i].id: i for i in todo}
        todo = [by_id[module_id_] for module_id_ in stale]
        batch = {modules[i].name: modules[i] for i in todo if modules[i].status == "active"}
        for i in todo:  # verify again, outside the lock, against the library as it is now
            program = _program(library, modules[i], batch)
            if program is None or not check(program, modules[i].tests):
                refused[modules[i].id] = "fails its tests with the library as it is now"
            programs[i] = program
        todo = [i for i in todo if modules[i].id not in refused]
    for i in todo:
        refused[modules[i].id] = f"the library changed {MAX_ROUNDS} times while storing it"
    return refused


CHUNK = 1000
"""Ids or names per Chroma query (one query with too many fails past SQLite's limit)."""


def _active(library: Any, names: set[str]) -> list[Module]:
    ordered = sorted(names)
    return [m for start in range(0, len(ordered), CHUNK)
            for m in library.active_modules(set(ordered[start:start + CHUNK]))]


def _program(library: Any, module: Module, batch: dict[str, Module]) -> str | None:
    """The module's program, its dependencies taken from `batch` first, then the library."""
    try:
        return program_source(module_closure(module, lambda n: batch.get(n) or library.get(n)))
    except DependencyError:
        return None


def _admissible(library: Any, modules: list[Module],
                refused: dict[str, str]) -> dict[str, Module]:
    """The modules that may be stored now, by id: not stored yet, an active one under a name
    not active, every dependency active or admitted with them."""
    ids = [m.id for m in modules]
    stored = {i for start in range(0, len(ids), CHUNK)
              for i in library.modules.get(ids=ids[start:start + CHUNK], include=[])["ids"]}
    active = {m.name: m.id for m in _active(library, {m.name for m in modules
                                                      if m.status == "active"})}
    chosen: dict[str, Module] = {}
    taken: set[str] = set()
    for module in modules:
        if module.id in stored:
            refused[module.id] = STORED_MEANWHILE
        elif module.status == "active" and module.name in active:
            refused[module.id] = (f"an active module {module.name} already exists "
                                  f"({active[module.name]}); `agentlib lib rm` it first")
        elif module.status == "active" and module.name in taken:
            refused[module.id] = f"a second active {module.name} in the same batch"
        else:
            chosen[module.id] = module
            taken |= {module.name} if module.status == "active" else set()
    deps = {d for m in chosen.values() for d in m.dependencies}
    library_names = {m.name for m in _active(library, deps)}
    while True:  # a module whose dependency is refused is refused too
        names = library_names | {m.name for m in chosen.values() if m.status == "active"}
        bad = [m for m in chosen.values() if not set(m.dependencies) <= names - {m.name}]
        if not bad:
            return chosen
        for module in bad:
            missing = sorted(set(module.dependencies) - names)
            refused[module.id] = f"needs {', '.join(missing)}, which is not active"
            del chosen[module.id]


def _stale(library: Any, chosen: dict[str, Module], programs: dict[str, str | None]
           ) -> set[str]:
    """Ids whose program changed since it was verified, and those that need them."""
    batch = {m.name: m for m in chosen.values() if m.status == "active"}
    stale = set()
    for module in chosen.values():
        if programs.get(module.id) is None:
            continue
        if not same_program(_program(library, module, batch), programs[module.id]):
            stale.add(module.id)
    while True:
        names = {chosen[i].name for i in stale}
        more = {m.id for m in chosen.values() if m.id not in stale and names & set(m.dependencies)}
        if not more:
            return stale
        stale |= more


def apply_new(library: Any, modules: list[Module], vectors: list[list[float]],
              programs: list[str | None], refused: dict[str, str]) -> list[str]:
    """Store what may be stored of a bulk batch; record refusals; return the stale ids."""
    vector_of = {m.id: v for m, v in zip(modules, vectors, strict=True)}
    program_of = {m.id: p for m, p in zip(modules, programs, strict=True)}
    if library.conn.server:
        return _apply_new_on_server(library, modules, vector_of, program_of, refused)
    with library.write_transaction():
        chosen = _admissible(library, modules, refused)
        stale = _stale(library, chosen, program_of)
        ready = [m for m in chosen.values() if m.id not in stale]
        for module in ready:
            if module.status == "active":
                module.version = max(module.version, next_version(library, module.name))
            module.created_at = module.created_at or time.time()
        for start in range(0, len(ready), 1000):  # Chroma caps one write's size
            chunk = ready[start:start + 1000]
            upsert(library, chunk, [vector_of[m.id] for m in chunk])
        return sorted(stale)


def _apply_new_on_server(library: Any, modules: list[Module], vector_of: dict,
                         program_of: dict, refused: dict[str, str]) -> list[str]:
    """Claim the first slot of each new name, dependencies first; store the history as is."""
    chosen = _admissible(library, modules, refused)
    stale = _stale(library, chosen, program_of)
    ready = [m for m in chosen.values() if m.id not in stale]
    history = [m for m in ready if m.status != "active"]
    for start in range(0, len(history), 1000):
        chunk = history[start:start + 1000]
        add(library, chunk, [vector_of[m.id] for m in chunk])
    level: dict[str, int] = {}
    active = {m.name: m for m in ready if m.status == "active"}

    def depth(module: Module, seen: tuple[str, ...] = ()) -> int:
        if module.name not in level:
            inner = [active[d] for d in module.dependencies if d in active and d not in seen]
            level[module.name] = 1 + max((depth(d, seen + (module.name,)) for d in inner),
                                         default=-1)
        return level[module.name]

    lost: set[str] = set()
    for n in sorted({depth(m) for m in active.values()}):
        group = []
        for module in (m for m in active.values() if level[m.name] == n):
            gone = sorted(set(module.dependencies) & lost)
            head = claims.head(library, module.name)
            if gone:
                refused[module.id] = f"its dependency {gone[0]} was stored by another writer"
            elif head.active is not None:
                refused[module.id] = (f"an active module {module.name} already exists "
                                      f"({head.active.id}); `agentlib lib rm` it first")
            else:
                module.version = max(module.version, next_version(library, module.name))
                module.created_at = module.created_at or time.time()
                group.append((module, vector_of[module.id], head.slot + 1, None, "commit"))
        won = claims.claim_many(library, group)
        for module, *_ in group:
            if module.id not in won:
                refused[module.id] = f"another writer stored {module.name} meanwhile"
                lost.add(module.name)
        lost |= {m.name for m in active.values() if m.id in refused}
    return sorted(stale)
