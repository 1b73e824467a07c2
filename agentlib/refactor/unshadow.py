"""Call the library instead of a local copy: drop definitions that shadow active modules.

Small models often paste a library function inside the new one (`def is_leap_year` nested
in `day_of_year`) instead of calling the stored module. Such a copy is removed — the name
then resolves to the library module — when the module and every module depending on it
still pass all their stored tests with the library's version. Dead code goes the same way:
nested functions the function never uses and imports nothing uses. No LLM is involved.
"""

from __future__ import annotations

import ast

from agentlib.library.code import docstring, module_id, signature
from agentlib.model import Module
from agentlib.refactor.commit import commit
from agentlib.refactor.programs import dependencies_of, source_lines
from agentlib.refactor.records import Cluster, ClusterOutcome, Proposal
from agentlib.refactor.verify import check_rewrites
from agentlib.sandbox import Limits


def drop_shadowing(source: str, name: str, library_names: set[str]) -> tuple[str, list[str]]:
    """Return `source` without its definitions of other library names, and those names.

    Looks at the module's top level and at its function's own body (one level down).
    """
    tree = ast.parse(source)
    shadows = library_names - {name}
    dropped: list[str] = []

    def keep(node: ast.stmt) -> bool:
        if isinstance(node, ast.FunctionDef) and node.name in shadows:
            dropped.append(node.name)
            return False
        return True

    tree.body = [n for n in tree.body if keep(n)]
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            body = [n for n in node.body if keep(n)]
            dead = [n for n in body if isinstance(n, ast.FunctionDef)
                    and n.name not in _names_used([m for m in body if m is not n])]
            while dead:  # a helper only a dead helper used is dead next round
                dropped.extend(f"{n.name} (unused)" for n in dead)
                body = [n for n in body if n not in dead]
                dead = [n for n in body if isinstance(n, ast.FunctionDef)
                        and n.name not in _names_used([m for m in body if m is not n])]
            node.body = body or [ast.Pass()]
    tree.body = [n for n in tree.body if not _unused_import(n, _names_used(tree.body), dropped)]
    if not dropped:
        return source, []
    return ast.unparse(tree) + "\n", sorted(set(dropped))


def _names_used(nodes: list[ast.stmt]) -> set[str]:
    """Names read anywhere in `nodes` (attribute bases included: `math` in `math.pi`)."""
    return {n.id for node in nodes for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _unused_import(node: ast.stmt, used: set[str], dropped: list[str]) -> bool:
    """True (and noted in `dropped`) for an import none of whose names is read."""
    if not isinstance(node, (ast.Import, ast.ImportFrom)):
        return False
    if isinstance(node, ast.ImportFrom) and node.module == "__future__":
        return False
    bound = [(a.asname or a.name).split(".")[0] for a in node.names]
    if "*" in bound or any(b in used for b in bound):
        return False
    dropped.append(f"import {', '.join(bound)} (unused)")
    return True


def unshadow(library, *, dry_run: bool = False,
             limits: Limits | None = None) -> list[ClusterOutcome]:
    """Drop verified local copies, one module at a time (each checked against the library as
    the previous ones left it); return an outcome per module that had copies."""
    names = {m.name for m in library.list()}
    found: list[ClusterOutcome] = []
    for module in library.list():
        try:
            source, dropped = drop_shadowing(module.source, module.name, names)
        except SyntaxError:
            continue
        if not dropped:
            continue
        version = Module(
            id=module_id(source), name=module.name, source=source,
            signature=signature(source, module.name),
            docstring=docstring(source, module.name) or module.docstring, tests=list(module.tests),
            dependencies=dependencies_of(source, names - {module.name}),
            task_prompt=module.task_prompt, task_id=module.task_id, backend="refactor",
            model="unshadow", times_retrieved=module.times_retrieved,
            times_reused=module.times_reused, times_failed=module.times_failed)
        checks, failure, _ = check_rewrites(library, [version], {version.name: version}, limits)
        copies = [d for d in dropped if " " not in d]
        dead = [d for d in dropped if " " in d]
        reason = "; ".join(
            ([f"calls the library's {', '.join(copies)} instead of local copies"] if copies else [])
            + ([f"drops dead code: {', '.join(dead)}"] if dead else []))
        outcome = ClusterOutcome(
            Cluster([module.name], "\n".join([f"def {d}(...)  # local copy" for d in copies]
                                             + [f"# dead: {d}" for d in dead]), 0),
            accepted=not failure, reason=failure or reason,
            proposal=Proposal(helper_name="", helper_source="", rewrites={module.name: source}),
            checks=checks, lines_before=source_lines(module.source),
            lines_after=source_lines(source))
        if outcome.accepted and not dry_run:
            commit(library, [version])
            outcome.committed = True
        found.append(outcome)
    return found
