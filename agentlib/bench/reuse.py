"""The reuse path's cost: a task that a stored module already solves, with zero LLM calls."""

from __future__ import annotations

import statistics
import tempfile
import time
from typing import Any, Callable

SOURCES = {
    "add": ("def add(a, b):\n    return a + b\n", ["assert add(2, 3) == 5"]),
    "is_prime": ("def is_prime(n):\n    return n > 1 and all(n % k for k in range(2, n))\n",
                 ["assert is_prime(7)", "assert not is_prime(8)"]),
    "reverse_words": ("def reverse_words(s):\n    return ' '.join(reversed(s.split()))\n",
                      ["assert reverse_words('a b') == 'b a'"]),
    "gcd": ("def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n",
            ["assert gcd(12, 18) == 6"]),
    "transpose": ("def transpose(m):\n    return [list(r) for r in zip(*m)]\n",
                  ["assert transpose([[1, 2]]) == [[1], [2]]"]),
}


class _NoLLM:
    name = "none"

    def complete(self, messages: Any, **options: Any) -> Any:
        raise AssertionError("the reuse path must not call the LLM")


def reuse_benchmark(runs: int = 20, report: Callable[[str], None] = print) -> dict[str, float]:
    """Store five modules, then time solving a task one of them passes (after a warm-up)."""
    from agentlib.agent import Agent
    from agentlib.code import docstring, module_id, signature
    from agentlib.config import Settings
    from agentlib.model import Module, Task
    from agentlib.plugins import make_plugin_manager

    with tempfile.TemporaryDirectory(prefix="agentlib-reuse-") as tmp:
        settings = Settings(store=f"{tmp}/library", llm="none")
        agent = Agent(settings, llm=_NoLLM(), pm=make_plugin_manager(load_entry_points=False))
        start = time.monotonic()
        for name, (source, tests) in SOURCES.items():
            agent.library.add(Module(id=module_id(source), name=name, source=source,
                                     signature=signature(source, name),
                                     docstring=docstring(source, name), tests=tests,
                                     task_prompt=f"The function {name}."))
        load = time.monotonic() - start
        task = Task.from_asserts("Return the sum of two numbers.",
                                 ["assert add(20, 22) == 42", "assert add(-1, 1) == 0"])
        agent.solve(task)  # warm-up: sandbox spares, vector index
        times, steps = [], {"retrieve": [], "try_reuse": []}
        for _ in range(runs):
            result = agent.solve(task)
            assert result.decision == "reused" and result.llm_calls == 0
            times.append(result.wall_s)
            for step in result.trace:
                steps[step.node].append(step.wall_s)
    figures = {"median_s": statistics.median(times), "p90_s": sorted(times)[int(0.9 * runs) - 1],
               "retrieve_median_s": statistics.median(steps["retrieve"]),
               "try_reuse_median_s": statistics.median(steps["try_reuse"]),
               "library_and_embedder_load_s": load}
    report("reuse path (5 modules stored, zero LLM calls): " + ", ".join(
        f"{k} {v:.3f}" for k, v in figures.items()))
    return figures
