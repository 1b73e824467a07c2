"""The `insights` collection: lessons learned from failures, found by embedding."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import fields
from typing import Any

from agentlib.errors import StoreError
from agentlib.library.chroma import INSIGHTS
from agentlib.model import Insight

COUNTERS = ("retrieved", "helped", "misled")
EVIDENCE_KEPT = 10  # task texts kept per insight for helped and for misled
_LISTS = ("merged_from", "helped_on", "misled_on")


def insight_id(taxonomy: str, condition: str, explanation: str, example: str = "") -> str:
    """Return the content hash that identifies an insight."""
    text = json.dumps([taxonomy.strip(), condition.strip(), explanation.strip(),
                       example.strip()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# Taxonomy segments too broad to say a task is about them.
_GENERIC_SEGMENTS = {"general", "python", "bugs", "bug", "logic", "misc", "programming",
                     "errors", "error", "functions", "function", "code", "basics", "other",
                     "common", "mistakes", "edge", "cases", "handling", "input", "output"}
TAXONOMY_SLACK = 0.1
"""How much farther than the distance limit an insight may be when its taxonomy matches."""


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 4 and word.endswith("s") else word


def taxonomy_matches(taxonomy: str, text: str) -> bool:
    """True when a specific segment of `taxonomy` (`strings/parsing/whitespace`) names a word
    of `text` (plurals folded; broad segments such as `general` or `bugs` never match)."""
    words = {_stem(w) for w in re.findall(r"[a-z]+", text.lower())}
    segments = {_stem(part) for segment in taxonomy.lower().split("/")
                for part in re.split(r"[_\W]+", segment) if len(part) >= 4}
    return bool((segments - {_stem(g) for g in _GENERIC_SEGMENTS}) & words)


def select_insights(found: list[tuple[Insight, float]], text: str, k: int,
                    max_distance: float) -> list[Insight]:
    """The insights to show for a task: within `max_distance` by embedding, or a little
    farther (TAXONOMY_SLACK) when their taxonomy names what the task is about; at most k,
    nearest first."""
    chosen = [i for i, d in found if d <= max_distance or (
        d <= max_distance + TAXONOMY_SLACK and taxonomy_matches(i.taxonomy, text))]
    return chosen[:k]


def insight_text(meta: dict[str, Any]) -> str:
    """The text an insight is found by: its taxonomy, condition and explanation."""
    return f"{meta['taxonomy']}\n{meta['condition']}\n{meta['explanation']}".strip()


def to_metadata(insight: Insight) -> dict[str, Any]:
    meta = {f.name: getattr(insight, f.name) for f in fields(Insight)}
    for name in _LISTS:
        meta[name] = json.dumps(getattr(insight, name))
    meta["refined_from"] = insight.refined_from or ""
    return meta


def from_metadata(meta: dict[str, Any]) -> Insight:
    values = {f.name: meta[f.name] for f in fields(Insight) if f.name in meta}
    for name in _LISTS:
        values[name] = json.loads(meta.get(name) or "[]")
    values["refined_from"] = meta.get("refined_from") or None
    return Insight(**values)


class InsightStore:
    """Add, find and count insights; writes share the library's lock and atomicity.

    `library` is the `agentlib.library.store.Library` that holds the collection.
    """

    def __init__(self, library: Any) -> None:
        self.library = library

    @property
    def collection(self):
        return self.library.conn.collection(INSIGHTS, self.library.collection_metadata)

    def add(self, insight: Insight) -> Insight:
        """Store an insight (all or nothing); its id is its content hash, so a repeat is a no-op.

        An empty `id` is filled in; a given id that is not the content hash is refused.
        """
        expected = insight_id(insight.taxonomy, insight.condition, insight.explanation,
                              insight.example)
        if insight.id and insight.id != expected:
            raise StoreError(f"insight id {insight.id!r} is not its content hash {expected!r}; "
                             "leave id empty and the library fills it in")
        if not (insight.taxonomy.strip() and insight.condition.strip()
                and insight.explanation.strip()):
            raise StoreError("an insight needs a taxonomy, a condition and an explanation")
        insight.id = expected
        with self.library.write_transaction():
            existing = self.get(insight.id)
            if existing is not None:
                return existing
            meta = to_metadata(insight)
            text = insight_text(meta)
            self.collection.upsert(ids=[insight.id], metadatas=[meta], documents=[text],
                                   embeddings=[self.library.embed(text)])
            return insight

    def merge(self, into_id: str, duplicate: Insight) -> Insight | None:
        """Record `duplicate` as merged into the insight `into_id`: its content id joins
        `merged_from` (the lineage); nothing else is stored. Returns the kept insight."""
        duplicate_id = insight_id(duplicate.taxonomy, duplicate.condition,
                                  duplicate.explanation, duplicate.example)
        with self.library.write_transaction():
            kept = self.stored(into_id)
            if kept is None:
                return None
            if duplicate_id != into_id and duplicate_id not in kept.merged_from:
                kept.merged_from.append(duplicate_id)
                self.collection.update(ids=[into_id], metadatas=[
                    {"merged_from": to_metadata(kept)["merged_from"]}])
            return self.library.pending.view("insights", kept, EVIDENCE_KEPT)

    def _record(self, meta: dict[str, Any]) -> Insight:
        return self.library.pending.view("insights", from_metadata(meta), EVIDENCE_KEPT)

    def stored(self, insight_id: str) -> Insight | None:
        """The insight as stored (without this process's pending counters)."""
        got = self.collection.get(ids=[insight_id], include=["metadatas"])
        return from_metadata(got["metadatas"][0]) if got["ids"] else None

    def get(self, insight_id: str) -> Insight | None:
        found = self.library.records(INSIGHTS, ids=[insight_id])
        return self._record(found[0]) if found else None

    def list(self) -> list[Insight]:
        """Return every insight, sorted by taxonomy then condition."""
        return sorted((self._record(m) for m in self.library.records(INSIGHTS)),
                      key=lambda i: (i.taxonomy, i.condition))

    def count(self) -> int:
        return self.library.record_count(INSIGHTS)

    def search(self, text: str, k: int = 5,
               filters: dict[str, Any] | None = None) -> list[tuple[Insight, float]]:
        """Return up to k insights nearest to `text`, with cosine distances."""
        if k <= 0 or self.count() == 0:
            return []
        found = self.library.nearest(INSIGHTS, self.library.embed(text), k, filters)
        return [(self._record(m), d) for m, d in found]

    def update_counters(self, insight_id: str, task: str | None = None,
                        **increments: int) -> None:
        """Add to an insight's counters (retrieved, helped, misled), written with the
        module counters (`Library.flush_counters`).

        `task`, the search text of the task concerned, is kept (the latest EVIDENCE_KEPT)
        with the helped or misled it counts, so evolution can check a refinement on it.
        """
        from agentlib.library.counters import checked

        checked(Insight, increments, "insight")
        pending = self.library.pending
        pending.count("insights", insight_id, increments)
        for name, kept in (("helped", "helped_on"), ("misled", "misled_on")):
            if task and increments.get(name, 0) > 0:
                pending.keep_task(insight_id, kept, task)
        self.library._flush_later()

    def write_counters(self, increments: dict[str, dict[str, int]],
                       evidence: dict[str, dict[str, list[str]]]) -> int:
        """Add increments and task texts to stored insights (only those fields); call it
        under the write lock (`counters.flush` does). Return how many insights it wrote."""
        found = [i for i in (self.stored(i) for i in sorted(set(increments) | set(evidence)))
                 if i is not None]
        for insight in found:
            for name, value in increments.get(insight.id, {}).items():
                setattr(insight, name, getattr(insight, name) + value)
            for name, texts in evidence.get(insight.id, {}).items():
                setattr(insight, name, (getattr(insight, name) + texts)[-EVIDENCE_KEPT:])
        if found:
            keys = sorted({k for c in increments.values() for k in c}
                          | {k for e in evidence.values() for k in e})
            metas = [to_metadata(i) for i in found]
            self.collection.update(ids=[i.id for i in found],
                                   metadatas=[{k: m[k] for k in keys} for m in metas])
        return len(found)

    def remove(self, insight_id: str) -> None:
        """Delete an insight (evolution retires or replaces insights; lineage lives on in
        the refined insight's `refined_from`)."""
        with self.library.write_transaction():
            self.collection.delete(ids=[insight_id])
