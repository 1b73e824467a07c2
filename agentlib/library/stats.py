"""`stats`: what is in the library and how much of it earns its place."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentlib.library.store import Library


@dataclass
class LibraryStats:
    """Counts, sizes and usage of one library."""

    modules_by_status: dict[str, int]
    insights: int
    tests: int
    source_bytes: int
    disk_bytes: int | None
    most_reused: list[tuple[str, int]]
    never_reused: list[str]
    by_provenance: dict[str, int] = field(default_factory=dict)


def library_stats(library: "Library", top: int = 5) -> LibraryStats:
    """Summarise the library; `top` bounds the most-reused list."""
    modules = library.list(status=None)
    active = [m for m in modules if m.status == "active"]
    disk = None
    if library.conn.path is not None:
        disk = sum(f.stat().st_size for f in Path(library.conn.path).rglob("*") if f.is_file())
    reused = sorted((m for m in active if m.times_reused), key=lambda m: -m.times_reused)
    return LibraryStats(
        modules_by_status=dict(Counter(m.status for m in modules)),
        insights=library.insights.count(),
        tests=sum(len(m.tests) for m in active),
        source_bytes=sum(len(m.source.encode()) for m in active),
        disk_bytes=disk,
        most_reused=[(m.name, m.times_reused) for m in reused[:top]],
        never_reused=sorted(m.name for m in active if not m.times_reused),
        by_provenance=dict(Counter(f"{m.backend or '-'}/{m.model or '-'}" for m in active)),
    )
