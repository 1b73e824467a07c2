"""Sandbox overhead: a sandboxed validation against a bare `python -I -c pass` spawn."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from agentlib.model import TestCase

PROGRAM = "def add(a, b):\n    return a + b\n"
TESTS = [TestCase("assert add(1, 2) == 3"), TestCase("assert add(-1, 1) == 0"),
         TestCase("assert add('a', 'b') == 'ab'")]


def _bare_spawn() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-c", "pass"], check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def _validation(limits) -> float:
    from agentlib.sandbox import run

    start = time.perf_counter()
    verdict = run(PROGRAM, TESTS, limits)
    elapsed = time.perf_counter() - start
    if not verdict.passed:
        raise RuntimeError(f"the benchmark's own validation failed: {verdict}")
    return elapsed


def _throughput(workers: int, count: int, limits) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda _: _validation(limits), range(count)))
    return count / (time.perf_counter() - start)


def sandbox_benchmark(runs: int = 30, echo: bool = True) -> dict:
    """Measure the figures the sandbox issue asks for; print them unless `echo` is False.

    Bare spawns and validations alternate, so machine load affects both alike.
    """
    from agentlib.sandbox import Limits, detect_isolation

    limits = Limits(timeout_s=5.0)
    isolation = detect_isolation()
    for _ in range(3):  # warm the page cache and the isolation probe
        _bare_spawn()
        _validation(limits)
    bare, sandboxed = [], []
    for _ in range(runs):
        bare.append(_bare_spawn())
        sandboxed.append(_validation(limits))
    cgroup = any(b.name == "run memory" and b.in_force for b in isolation.bounds)
    figures = {
        "isolation": isolation.mode,
        "run_cgroup": cgroup,
        "runs": runs,
        "cpus": os.cpu_count(),
        "python": sys.executable,
        "bare_python_ms": statistics.median(bare) * 1000,
        "validation_ms": statistics.median(sandboxed) * 1000,
        "ratio": statistics.median(sandboxed) / statistics.median(bare),
        "validations_per_s_1_worker": _throughput(1, runs, limits),
        "validations_per_s_2_workers": _throughput(2, runs, limits),
    }
    if echo:
        print(format_figures(figures))
    return figures


def format_figures(figures: dict) -> str:
    """Render the benchmark's figures as a few plain lines."""
    return "\n".join([
        f"sandbox benchmark ({figures['isolation']}"
        f"{', run cgroup' if figures.get('run_cgroup') else ''}, {figures['runs']} runs, "
        f"{figures['cpus']} CPUs)",
        f"  bare `python -I -c pass`:            {figures['bare_python_ms']:7.1f} ms (median)",
        f"  sandboxed validation (3 asserts):    {figures['validation_ms']:7.1f} ms (median)",
        f"  ratio:                               {figures['ratio']:7.2f}x",
        f"  validations/s, 1 worker:             {figures['validations_per_s_1_worker']:7.1f}",
        f"  validations/s, 2 workers:            {figures['validations_per_s_2_workers']:7.1f}",
    ])


if __name__ == "__main__":
    sandbox_benchmark()
