"""The store benchmark at a small size: it runs and its figures are sane."""

from __future__ import annotations

from agentlib.bench.store import store_benchmark


def test_store_benchmark_small(tmp_path):
    lines: list[str] = []
    (figures,) = store_benchmark([600], report=lines.append, root=tmp_path)
    assert len(lines) == 2 and lines[1].startswith("600 ")
    assert figures.n == 600 and figures.insert_per_s > 0 and figures.disk_mb > 0
    assert figures.recall_at_5 == 1.0  # exact search below the size threshold
    assert 0 < figures.query_p50_ms <= figures.query_p95_ms
    assert figures.scan_p50_ms > 0 and 0 <= figures.hnsw_recall_at_5 <= 1
