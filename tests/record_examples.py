"""Re-record the completions the examples tests replay, from the real small model.

    .venv/bin/python tests/record_examples.py

Writes tests/recordings/examples.json: the CLI task whose tests come from its text and the one
without examples, whose tests the model proposes (tests/test_examples_cli.py); the first tasks
of both halves of the examples development set under the `agent` and `raw` configurations (the
bench checks in the same file); and the REPL session of tests/test_repl_tmux.py (a task with
examples, then the task without, its proposed tests edited). Twenty minutes or so on 2 cores.
With `--missing` the file is kept and only the conversations it lacks are recorded.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from test_examples_cli import (  # noqa: E402
    BENCH_LIMIT,
    DEV_SET,
    EDITED_TEST,
    NO_EXAMPLES_SET,
    NO_EXAMPLES_TASK,
    WORDS_TASK,
)

from agentlib.agent import Agent  # noqa: E402
from agentlib.agent.examples import task_function  # noqa: E402
from agentlib.agent.propose import ask_for_tests  # noqa: E402
from agentlib.agent.taskfile import parse_task, read_tasks  # noqa: E402
from agentlib.config import Settings  # noqa: E402
from agentlib.llm.local import LocalLLM  # noqa: E402
from agentlib.llm.provision import resolve_model  # noqa: E402
from agentlib.llm.replay import RecordingLLM, ReplayLLM, messages_key  # noqa: E402
from agentlib.plugins import make_plugin_manager  # noqa: E402

OUT = Path(__file__).parent / "recordings" / "examples.json"


def _agent(tmp: str, llm) -> Agent:
    return Agent(Settings(store=f"{tmp}/lib", llm="replay"), llm=llm,
                 pm=make_plugin_manager(load_entry_points=False))


def _cli_task(prompt: str, id: str = "cli", tests: list[str] | None = None):
    return parse_task({"id": id, "prompt": prompt, "tests": tests, "entry_point": None},
                      "command line")


class Missing:
    """Serve a recorded conversation; record one the file lacks."""

    def __init__(self, recording: RecordingLLM) -> None:
        self.recording, self.name = recording, recording.name

    def complete(self, messages, **options):
        if messages_key(messages) in ReplayLLM(OUT).recordings:
            return ReplayLLM(OUT).complete(messages, **options)
        return self.recording.complete(messages, **options)


def main() -> None:
    os.environ["AGENTLIB_CROSS_CHECK"] = "never"  # as in the tests (see conftest.py)
    missing = "--missing" in sys.argv[1:]
    if not missing:
        OUT.unlink(missing_ok=True)
    os.environ["AGENTLIB_NO_PLUGINS"] = "1"  # as in the tests: results must not depend on plugins
    llm = RecordingLLM(LocalLLM(resolve_model("small")), OUT)
    if missing:
        llm = Missing(llm)
    for prompt in (WORDS_TASK, NO_EXAMPLES_TASK):  # `agentlib solve PROMPT`, a fresh library
        with tempfile.TemporaryDirectory() as tmp:
            result = _agent(tmp, llm).solve(_cli_task(prompt))
            print("cli", result.status, result.decision, result.llm_calls, result.warnings)
    from agentlib.bench.tasks import run_configs

    for path in (DEV_SET, NO_EXAMPLES_SET):
        tasks = [line.task for line in read_tasks(path)][:BENCH_LIMIT]
        summaries = run_configs(tasks, ["agent", "raw"], llm, Settings(llm="replay"))
        print("bench", path.name,
              [(s.config, s.solved, s.hidden_solved, s.llm_calls) for s in summaries])
    with tempfile.TemporaryDirectory() as tmp:  # the REPL session: one library, in order
        agent = _agent(tmp, llm)
        first = agent.solve(_cli_task(WORDS_TASK, "repl-1"))  # its derived tests accepted
        proposal = ask_for_tests(llm, NO_EXAMPLES_TASK, task_function(NO_EXAMPLES_TASK))
        edited = [t.source for t in proposal.tests] + [EDITED_TEST]  # given, once edited
        second = agent.solve(_cli_task(NO_EXAMPLES_TASK, "repl-2", edited))
        print("repl", first.status, second.status, second.decision, edited)


if __name__ == "__main__":
    main()
