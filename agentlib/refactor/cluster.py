"""Find clusters of modules that repeat the same code: shared AST fragments, near embeddings.

A fragment is a run of 1-4 consecutive statements, or an expression, with its local names
renamed in order of appearance (`parts = s.split('-')` and `p = date.split('-')` match).
Constants, attributes and called functions are kept: they are what the code does.
"""

from __future__ import annotations

import ast
import builtins
import copy
import hashlib
from dataclasses import dataclass

from agentlib.library.text import embedding_text
from agentlib.model import Module
from agentlib.refactor.records import Cluster

MIN_FRAGMENT_NODES = 12
"""Smaller shared code (`x + 1`, `return n`) is not worth a helper."""
MAX_WINDOW = 4
MAX_CLUSTER = 5
MAX_EMBEDDING_DISTANCE = 0.9
"""Cosine distance: members must be at least this near one other member (a loose check —
the AST fragment is the real evidence; it keeps unrelated code that happens to share an
idiom apart)."""


@dataclass
class Fragment:
    key: str
    size: int
    text: str


class _Canonical(ast.NodeTransformer):
    """Rename local names to v0, v1, … in order of first appearance."""

    def __init__(self, keep: set[str]) -> None:
        self.keep = keep
        self.names: dict[str, str] = {}

    def _rename(self, name: str) -> str:
        if name in self.keep:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._rename(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._rename(node.arg)
        node.annotation = None
        return node


def _size(node: ast.AST) -> int:
    return sum(1 for _ in ast.walk(node))


def _key(nodes: list[ast.AST], keep: set[str]) -> str:
    renamer = _Canonical(keep)
    dumped = [ast.dump(renamer.visit(copy.deepcopy(n)), annotate_fields=False) for n in nodes]
    return hashlib.sha256("\n".join(dumped).encode()).hexdigest()[:20]


def fragments(source: str, keep: set[str] | None = None) -> dict[str, Fragment]:
    """Return the module's fragments of at least MIN_FRAGMENT_NODES nodes, by key."""
    keep = (keep or set()) | set(dir(builtins))
    tree = ast.parse(source)
    found: dict[str, Fragment] = {}

    def add(nodes: list[ast.AST]) -> None:
        size = sum(_size(n) for n in nodes)
        if size < MIN_FRAGMENT_NODES:
            return
        key = _key(nodes, keep)
        if key not in found:
            found[key] = Fragment(key, size, "\n".join(ast.unparse(n) for n in nodes))

    for node in ast.walk(tree):
        for attr in ("body", "orelse", "finalbody"):
            block = getattr(node, attr, None)
            if not isinstance(block, list) or not block or not isinstance(block[0], ast.stmt):
                continue
            if isinstance(node, ast.Module):
                continue  # whole functions are dedup's business, not a helper's
            for start in range(len(block)):
                for width in range(1, MAX_WINDOW + 1):
                    window = block[start:start + width]
                    if len(window) == width:
                        add(window)
        if isinstance(node, ast.expr) and not isinstance(node, (ast.Name, ast.Constant)):
            add([node])
    return found


def find_clusters(library, modules: list[Module] | None = None,
                  max_distance: float = MAX_EMBEDDING_DISTANCE) -> list[Cluster]:
    """Return clusters of active modules sharing a fragment, biggest saving first.

    Clusters do not overlap: a module joins the first (best) cluster it appears in.
    """
    modules = modules if modules is not None else library.list()
    names = {m.name for m in modules}
    by_name = {m.name: m for m in modules}
    shared: dict[str, list[str]] = {}
    fragment_of: dict[str, Fragment] = {}
    for module in modules:
        try:
            own = fragments(module.source, names)
        except SyntaxError:
            continue
        for key, fragment in own.items():
            shared.setdefault(key, []).append(module.name)
            fragment_of.setdefault(key, fragment)
    groups = {key: members for key, members in shared.items() if len(members) >= 2}
    if not groups:
        return []
    near = _near_pairs(library, [by_name[n] for n in sorted({n for g in groups.values() for n in g})],
                       max_distance)
    ranked = sorted(groups.items(), key=lambda kv: (-fragment_of[kv[0]].size * (len(kv[1]) - 1),
                                                    sorted(kv[1])))
    taken: set[str] = set()
    clusters: list[Cluster] = []
    for key, members in ranked:
        free = sorted(n for n in members if n not in taken)
        connected = [n for n in free if any((n, o) in near for o in free if o != n)]
        if len(connected) < 2:
            continue
        connected = connected[:MAX_CLUSTER]
        taken.update(connected)
        fragment = fragment_of[key]
        clusters.append(Cluster(names=connected, fragment=fragment.text,
                                fragment_size=fragment.size))
    return clusters


def _near_pairs(library, modules: list[Module], max_distance: float) -> set[tuple[str, str]]:
    """Return the (a, b) name pairs whose embeddings are within `max_distance`."""
    names = {m.name for m in modules}
    pairs: set[tuple[str, str]] = set()
    for module in modules:
        for other, distance in library.search(embedding_text(module), k=max(len(modules), 5)):
            if other.name in names and other.name != module.name and distance <= max_distance:
                pairs.add((module.name, other.name))
                pairs.add((other.name, module.name))
    return pairs
