"""Exact nearest-neighbour search over an in-memory copy of a small collection's vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

from agentlib.library.records import fetch_all, matches

# Measured by `agentlib bench store` on random 384-d vectors: Chroma's HNSW query costs
# ~1-2 ms at 10k (a numpy scan: 0.1 ms) and at 100k reaches recall@5 0.97 only at ef=2000,
# 19 ms, slower than the scan. So embedded libraries search exactly in memory: a float32 scan
# while small, and above COARSE_MIN_RECORDS a float16 pass (torch, 4x faster than numpy's
# float32 GEMV on this CPU) that keeps the best RERANK candidates for an exact float32 rerank.
EXACT_MAX_RECORDS = 1_000_000
COARSE_MIN_RECORDS = 30_000
RERANK = 64


def unit_rows(vectors: Any, count: int) -> np.ndarray:
    """Vectors as a float32 matrix of `count` unit rows (a zero row stays zero)."""
    matrix = np.asarray(vectors, dtype=np.float32).reshape(count, -1) if count \
        else np.zeros((0, 0), dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


class ExactIndex:
    """Unit vectors, ids and metadata of one collection, as of one library generation."""

    def __init__(self, ids: list[str], vectors: Any, metadatas: list[dict[str, Any]],
                 generation: str, *, unit: bool = False) -> None:
        """`unit`: `vectors` are `unit_rows` already (a read snapshot's), used as they are."""
        self.matrix = vectors if unit else unit_rows(vectors, len(ids))
        self.ids = ids
        self.metadatas = metadatas
        self.generation = generation
        self._masks: dict[tuple, np.ndarray | None] = {}
        self._subsets: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.coarse = None
        if len(ids) >= COARSE_MIN_RECORDS:
            try:
                import torch
            except ImportError:
                torch = None
            if torch is not None:
                self.coarse = torch.from_numpy(self.matrix).to(torch.float16)

    @classmethod
    def load(cls, collection, generation: str) -> "ExactIndex":
        got = fetch_all(collection, ["embeddings", "metadatas"])
        return cls(got["ids"], got["embeddings"] if len(got["ids"]) else [],
                   got["metadatas"], generation)

    def apply(self, patches: list[tuple[list[dict[str, Any]], list[list[float]] | None]]) -> bool:
        """Apply records this process just wrote; False when a reload is needed instead."""
        rows = {record_id: i for i, record_id in enumerate(self.ids)}
        added_ids, added_metas, added_vectors = [], [], []
        for metadatas, vectors in patches:
            for j, meta in enumerate(metadatas):
                row = rows.get(meta["id"])
                if row is not None:
                    self.metadatas[row] = meta
                elif vectors is None:
                    return False
                else:
                    rows[meta["id"]] = len(self.ids) + len(added_ids)
                    added_ids.append(meta["id"])
                    added_metas.append(meta)
                    added_vectors.append(vectors[j])
        if added_ids:
            fresh = ExactIndex(added_ids, added_vectors, added_metas, self.generation)
            self.matrix = np.vstack([self.matrix, fresh.matrix]) if len(self.ids) \
                else fresh.matrix
            self.ids = self.ids + added_ids
            self.metadatas = self.metadatas + added_metas
            if self.coarse is not None or len(self.ids) >= COARSE_MIN_RECORDS:
                import torch

                self.coarse = torch.from_numpy(self.matrix).to(torch.float16)
        self._masks.clear()
        self._subsets.clear()
        return True

    def _mask(self, where: dict[str, Any]) -> np.ndarray | None:
        """Rows matching `where`; None when every row does."""
        key = tuple(sorted(where.items()))
        if key not in self._masks:
            mask = np.fromiter((matches(m, where) for m in self.metadatas),
                               dtype=bool, count=len(self.metadatas))
            self._masks[key] = None if mask.all() else mask
        return self._masks[key]

    def _subset(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows of a mask and their vectors (cached with the mask's key)."""
        key = id(mask)
        if key not in self._subsets:
            rows = np.flatnonzero(mask)
            self._subsets[key] = (rows, np.ascontiguousarray(self.matrix[rows]))
        return self._subsets[key]

    def search(self, vector: Any, k: int,
               where: dict[str, Any]) -> list[tuple[dict[str, Any], float]]:
        """Return up to k (metadata, cosine distance) pairs matching `where`, nearest first."""
        if not self.ids or k <= 0:
            return []
        query = np.asarray(vector, dtype=np.float32)
        query = query / (np.linalg.norm(query) or 1.0)
        mask = self._mask(where) if where else None
        if mask is not None and mask.sum() * 2 <= len(mask):  # selective: scan the subset
            rows, vectors = self._subset(mask)
            scores = vectors @ query
        elif self.coarse is not None:
            rows = self._coarse_candidates(query, max(RERANK, 4 * k), mask)
            scores = self.matrix[rows] @ query
        else:
            rows = None
            scores = self.matrix @ query
            if mask is not None:
                scores[~mask] = -np.inf
        k = min(k, len(scores))
        if k == 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        picked = top if rows is None else rows[top]
        return [(self.metadatas[row], float(1.0 - scores[i]))
                for row, i in zip(picked, top, strict=True) if scores[i] != -np.inf]

    def _coarse_candidates(self, query: np.ndarray, count: int,
                           mask: np.ndarray | None) -> np.ndarray:
        """Rows of the `count` best float16 scores (allowed by `mask`).

        On one thread: the product is memory-bound, and a second thread on a busy machine
        made it 3x slower (measured), not faster.
        """
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            scores = self.coarse @ torch.from_numpy(query).to(torch.float16)
            if mask is not None:
                scores = scores.masked_fill(torch.from_numpy(~mask), float("-inf"))
            best = torch.topk(scores, min(count, len(self.ids))).indices.numpy()
        finally:
            torch.set_num_threads(threads)
        if mask is not None:
            best = best[mask[best]]
        return best
