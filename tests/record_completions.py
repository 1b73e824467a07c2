"""Re-record the completions the replay tests use, from the real small model.

    .venv/bin/python tests/record_completions.py

Writes tests/recordings/agent.json (agent scenarios) and tests/recordings/raw.json (raw
replies for the extraction tests). Takes a few minutes on 2 cores.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import scenarios  # noqa: E402

from agentlib.agent import Agent  # noqa: E402
from agentlib.config import Settings  # noqa: E402
from agentlib.llm.local import LocalLLM  # noqa: E402
from agentlib.llm.provision import resolve_model  # noqa: E402
from agentlib.llm.replay import RecordingLLM  # noqa: E402
from agentlib.plugins import make_plugin_manager  # noqa: E402

PM = make_plugin_manager(load_entry_points=False)  # recordings must not depend on plugins

HERE = Path(__file__).parent / "recordings"


def main() -> None:
    HERE.mkdir(exist_ok=True)
    os.environ["AGENTLIB_CROSS_CHECK"] = "never"  # as in the tests (see conftest.py)
    agent_file = HERE / "agent.json"
    agent_file.unlink(missing_ok=True)
    model = LocalLLM(resolve_model("small"))
    llm = RecordingLLM(model, agent_file)
    # One growing library: add, reuse (rephrased), wrapper reuse.
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(Settings(store=f"{tmp}/lib", llm="replay"), llm=llm, pm=PM)
        for task in (scenarios.ADD, scenarios.ADD_REPHRASED, scenarios.PLUS_WRAPPER,
                     scenarios.SIMILAR):
            result = agent.solve(task)
            print(task.id, result.status, result.decision, result.llm_calls)
    # Repair: the misleading task, in an empty library.
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(Settings(store=f"{tmp}/lib", llm="replay"), llm=llm, pm=PM)
        result = agent.solve(scenarios.MISLEADING)
        print("misleading", result.status, result.decision, result.llm_calls)
    # Composition: a library seeded with is_prime.
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(Settings(store=f"{tmp}/lib", llm="replay"), llm=llm, pm=PM)
        agent.library.add(scenarios.is_prime_module())
        result = agent.solve(scenarios.COUNT_PRIMES)
        print("count-primes", result.status, result.decision, result.llm_calls, result.program)
    # No library: the same task twice costs two generations.
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(store=f"{tmp}/lib", llm="replay")
        settings.use_library = False
        agent = Agent(settings, llm=llm, pm=PM)
        print("no-library", agent.solve(scenarios.ADD).decision)
    # Reflection with the default (1.5B) model: the misleading task in an empty library.
    reflect_file = HERE / "reflect.json"
    reflect_file.unlink(missing_ok=True)
    big = RecordingLLM(LocalLLM(resolve_model("default")), reflect_file)
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(Settings(store=f"{tmp}/lib", llm="replay"), llm=big, pm=PM)
        result = agent.solve(scenarios.MISLEADING)
        print("reflect", result.status, [s.decision for s in result.trace if s.node == "reflect"])
        for task in (scenarios.COMBINE_SUM, ):
            result = agent.solve(task)
            print("after-insight", result.status, result.decision,
                  [s.detail for s in result.trace if s.node == "retrieve"])
    # The benchmark stream (tests/test_bench.py): three configurations, no plugins.
    os.environ["AGENTLIB_NO_PLUGINS"] = "1"
    bench_file = HERE / "bench.json"
    bench_file.unlink(missing_ok=True)
    from agentlib.bench.tasks import run_configs

    summaries = run_configs(scenarios.BENCH_STREAM, ["agent", "no-library", "raw"],
                            RecordingLLM(model, bench_file), Settings(llm="replay"))
    print("bench", [(s.config, s.solved, s.llm_calls) for s in summaries])
    raw = {}
    for key, prompt in scenarios.RAW_PROMPTS.items():
        raw[key] = model.complete([{"role": "user", "content": prompt}]).text
    (HERE / "raw.json").write_text(json.dumps(raw, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
