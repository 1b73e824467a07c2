"""Re-record the completions the examples tests replay, from the real small model.

    .venv/bin/python tests/record_examples.py

Writes tests/recordings/examples.json: the CLI task whose tests come from its text
(tests/test_examples_cli.py), and the first tasks of the examples development set under the
`agent` and `raw` configurations (the bench check in the same file). A few minutes on 2 cores.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from test_examples_cli import BENCH_LIMIT, DEV_SET, WORDS_TASK  # noqa: E402

from agentlib.agent import Agent  # noqa: E402
from agentlib.agent.taskfile import parse_task, read_tasks  # noqa: E402
from agentlib.config import Settings  # noqa: E402
from agentlib.llm.local import LocalLLM  # noqa: E402
from agentlib.llm.provision import resolve_model  # noqa: E402
from agentlib.llm.replay import RecordingLLM  # noqa: E402
from agentlib.plugins import make_plugin_manager  # noqa: E402

OUT = Path(__file__).parent / "recordings" / "examples.json"


def main() -> None:
    os.environ["AGENTLIB_CROSS_CHECK"] = "never"  # as in the tests (see conftest.py)
    OUT.unlink(missing_ok=True)
    os.environ["AGENTLIB_NO_PLUGINS"] = "1"  # as in the tests: results must not depend on plugins
    llm = RecordingLLM(LocalLLM(resolve_model("small")), OUT)
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(Settings(store=f"{tmp}/lib", llm="replay"), llm=llm,
                      pm=make_plugin_manager(load_entry_points=False))
        task = parse_task({"id": "cli", "prompt": WORDS_TASK, "tests": None,
                           "entry_point": None}, "command line")
        result = agent.solve(task)
        print("cli", result.status, result.decision, result.llm_calls)
    from agentlib.bench.tasks import run_configs

    tasks = [line.task for line in read_tasks(DEV_SET)][:BENCH_LIMIT]
    summaries = run_configs(tasks, ["agent", "raw"], llm, Settings(llm="replay"))
    print("bench", [(s.config, s.solved, s.hidden_solved, s.llm_calls) for s in summaries])


if __name__ == "__main__":
    main()
