"""A cold process on a library whose read snapshot is current reads it without importing
chromadb: `lib list`, `lib search` and a reused solve's look in the library (its usage
counters are then written through Chroma). Without the snapshot the same commands import it,
so each check can fail.

Real `python -m agentlib` and `Agent.solve` processes, real Chroma, MiniLM and sandbox in
tmp_path; the solve runs under the replay backend with no recordings (0 LLM calls).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import scenarios

from agentlib.library.snapshot import SNAPSHOT_FILE
from agentlib.library.store import Library

COMMAND = ("import sys, json, runpy\n"
           "sys.argv = ['agentlib', *json.loads(sys.argv[1])]\n"
           "try:\n    runpy.run_module('agentlib', run_name='__main__')\n"
           "except SystemExit as exc:\n    code = exc.code\n"
           "print('IMPORTED', json.dumps([code, 'chromadb' in sys.modules]))\n")

SOLVE = ("import sys, json\n"
         "from agentlib.agent import Agent, api\n"
         "from agentlib.config import Settings\n"
         "from agentlib.model import Task\n"
         "seen = []\n"
         "real = api.Agent._flush_counters\n"
         "def flush(self):\n"
         "    seen.append('chromadb' in sys.modules)\n"
         "    real(self)\n"
         "api.Agent._flush_counters = flush\n"
         "task = Task.from_asserts('Return the total of two numbers.',\n"
         "                         ['assert add(2, 3) == 5', 'assert add(-1, 1) == 0'])\n"
         "result = Agent(Settings(store=sys.argv[1], llm='replay')).solve(task)\n"
         "print('IMPORTED', json.dumps([result.decision, result.llm_calls, seen]))\n")


def _library(path, embedder) -> None:
    library = Library(str(path), embedder)
    library.add(scenarios.add_module())
    library.close()


def _run(code: str, arg: str) -> list:
    env = {**os.environ, "AGENTLIB_NO_PLUGINS": "1"}
    done = subprocess.run([sys.executable, "-c", code, arg], capture_output=True, text=True,
                          env=env, timeout=300)
    lines = [x for x in done.stdout.splitlines() if x.startswith("IMPORTED ")]
    assert lines, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(lines[-1].split(" ", 1)[1])


def test_lib_list_and_search_on_a_current_snapshot_do_not_import_chromadb(tmp_path, embedder):
    path = tmp_path / "lib"
    _library(path, embedder)
    search = json.dumps(["lib", "search", "sum of two numbers", "--library", str(path)])
    listing = json.dumps(["lib", "list", "--library", str(path)])
    assert _run(COMMAND, search) == [0, False]
    assert _run(COMMAND, listing) == [0, False]
    (path / SNAPSHOT_FILE).unlink()
    assert _run(COMMAND, search) == [0, True]
    assert _run(COMMAND, listing) == [0, True]


def test_a_reused_solve_looks_in_the_library_without_chromadb(tmp_path, embedder):
    path = tmp_path / "lib"
    _library(path, embedder)
    # chromadb not imported until the counters are written (the lookup read the snapshot)
    assert _run(SOLVE, str(path)) == ["reused", 0, [False]]
    # that write rewrote the snapshot: the next solve reads it too
    assert _run(SOLVE, str(path)) == ["reused", 0, [False]]
    (path / SNAPSHOT_FILE).unlink()
    assert _run(SOLVE, str(path)) == ["reused", 0, [True]]
