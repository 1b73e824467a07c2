"""`agentlib bench store`: insert, reopen and query figures for synthetic libraries."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

DIMENSION = 384
QUERIES = 200


class SyntheticEmbedder:
    """Stands in for a real embedder: the benchmark brings its own vectors."""

    name = "synthetic"
    fingerprint = "synthetic-384"
    dimension = DIMENSION

    def embed(self, texts: list[str]) -> list[list[float]]:
        rng = np.random.default_rng(abs(hash(tuple(texts))) % (1 << 32))
        return _unit(rng.standard_normal((len(texts), DIMENSION))).tolist()


@dataclass
class StoreFigures:
    """One size's measurements."""

    n: int
    insert_per_s: float
    disk_mb: float
    reopen_s: float
    first_query_s: float
    query_p50_ms: float
    query_p95_ms: float
    filtered_p50_ms: float
    filtered_p95_ms: float
    recall_at_5: float
    scan_p50_ms: float
    hnsw_p50_ms: float
    hnsw_recall_at_5: float


def _unit(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _synthetic_modules(n: int):
    from agentlib.model import Module

    modules = []
    for i in range(n):
        source = f"def f_{i}(x):\n    return x + {i}\n"
        modules.append(Module(id=f"{i:016x}", name=f"f_{i}", source=source,
                              signature=f"f_{i}(x)", docstring="", tests=[f"assert f_{i}(0) == {i}"],
                              task_prompt=f"add {i}", task_id=f"task-{i % 10}"))
    return modules


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    return float(np.percentile(seconds, 50) * 1e3), float(np.percentile(seconds, 95) * 1e3)


def _recall(found: list[list[str]], truth: list[list[str]]) -> float:
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
    return hits / sum(len(t) for t in truth)


def measure(n: int, root: Path, seed: int = 0) -> StoreFigures:
    """Build a library of n synthetic modules under `root` and measure it."""
    from agentlib.library.store import Library

    rng = np.random.default_rng(seed)
    vectors = _unit(rng.standard_normal((n, DIMENSION)))
    queries = _unit(rng.standard_normal((QUERIES, DIMENSION)))
    modules = _synthetic_modules(n)
    ids = np.array([m.id for m in modules])
    path = root / f"store-{n}"
    library = Library(str(path), SyntheticEmbedder())
    start = time.perf_counter()
    library.add_many(modules, vectors.tolist(), batch=5000)
    insert_s = time.perf_counter() - start
    disk = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())

    start = time.perf_counter()
    library.conn.reopen()
    library = Library(str(path), SyntheticEmbedder())
    reopen_s = time.perf_counter() - start
    start = time.perf_counter()
    library.search_vector(queries[0].tolist(), 5)
    first_query_s = time.perf_counter() - start

    scan, truth, filtered_truth = [], [], []
    in_task = np.array([i % 10 == 3 for i in range(n)])
    for q in queries:
        t = time.perf_counter()
        scores = vectors @ q
        top = np.argpartition(-scores, 5)[:5]
        scan.append(time.perf_counter() - t)
        truth.append(ids[top].tolist())
        masked = np.where(in_task, scores, -np.inf)
        filtered_truth.append(ids[np.argpartition(-masked, 5)[:5]].tolist())

    def timed(run: Callable[[np.ndarray], list[str]]) -> tuple[list[float], list[list[str]]]:
        seconds, found = [], []
        for q in queries:
            t = time.perf_counter()
            found.append(run(q))
            seconds.append(time.perf_counter() - t)
        return seconds, found

    plain_s, plain = timed(lambda q: [m.id for m, _ in library.search_vector(q, 5)])
    filtered_s, filtered = timed(lambda q: [m.id for m, _ in library.search_vector(
        q, 5, {"task_id": "task-3"})])
    hnsw_s, hnsw = timed(lambda q: library.modules.query(
        query_embeddings=[q.tolist()], n_results=5, include=[])["ids"][0])
    recall = min(_recall(plain, truth), _recall(filtered, filtered_truth))
    return StoreFigures(
        n=n, insert_per_s=n / insert_s, disk_mb=disk / 1e6, reopen_s=reopen_s,
        first_query_s=first_query_s, query_p50_ms=_percentiles(plain_s)[0],
        query_p95_ms=_percentiles(plain_s)[1], filtered_p50_ms=_percentiles(filtered_s)[0],
        filtered_p95_ms=_percentiles(filtered_s)[1], recall_at_5=recall,
        scan_p50_ms=_percentiles(scan)[0], hnsw_p50_ms=_percentiles(hnsw_s)[0],
        hnsw_recall_at_5=_recall(hnsw, truth))


def store_benchmark(sizes: list[int] = [1000, 10000, 100000],  # noqa: B006 - read only
                    report: Callable[[str], None] = print,
                    root: Path | None = None) -> list[StoreFigures]:
    """Measure a library of each size and report one line per size; return the figures.

    recall@5 is the worse of unfiltered and filtered (task_id = one tenth of the modules)
    search against an exact numpy scan of the same vectors; hnsw_* is Chroma's own index
    queried directly, for comparison.
    """
    own_root = root is None
    root = Path(tempfile.mkdtemp(prefix="agentlib-bench-")) if own_root else root
    results = []
    try:
        report(" ".join(StoreFigures.__dataclass_fields__))
        for n in sizes:
            figures = measure(n, root)
            results.append(figures)
            report(" ".join(f"{v:.3g}" if isinstance(v, float) else str(v)
                            for v in asdict(figures).values()))
    finally:
        if own_root:
            shutil.rmtree(root, ignore_errors=True)
    return results


if __name__ == "__main__":
    import sys

    store_benchmark([int(n) for n in (sys.argv[1] if len(sys.argv) > 1
                                      else "1000,10000,100000").split(",")])
