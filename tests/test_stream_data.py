"""The bundled task streams are right: every task is solvable and its held-back tests are fair.

Reference solutions (tests/stream_references/, never in the product) pass each task's visible
AND hidden tests in the real sandbox; a restated task is checked with the reference of the task
it restates wrapped under the restated name, the way the agent reuses a module. The stream
metadata (families, `restates`, `uses`) is checked too. Nothing here reads ../shared.
"""

from __future__ import annotations

import ast
import builtins
import json
from pathlib import Path

import pytest

from agentlib.agent.taskfile import read_tasks
from agentlib.model import TestCase as Case
from agentlib.sandbox import run

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "agentlib" / "bench" / "data"
REFERENCES = Path(__file__).resolve().parent / "stream_references"
STREAMS = {"compositional.jsonl": "compositional.py", "tune-1.jsonl": "tune_1.py", "report-1.jsonl": "report_1.py", "report-2.jsonl": "report_2.py",
}
NEW_STREAMS = [name for name in STREAMS if name != "compositional.jsonl"]


def records(stream: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / stream).read_text().splitlines()
            if line.strip()]


def entry_point(test: str) -> str:
    """The first non-builtin function a test calls."""
    for node in ast.walk(ast.parse(test)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and not hasattr(builtins, node.func.id)):
            return node.func.id
    raise AssertionError(f"no function called in {test!r}")


def original(by_id: dict[str, dict], record: dict) -> dict:
    """The task a restated task ultimately restates (itself when it restates nothing)."""
    while "restates" in record:
        record = by_id[record["restates"]]
    return record


def program_for(stream: str, record: dict) -> str:
    """The stream's reference, plus a wrapper when the task restates another under a new name."""
    source = (REFERENCES / STREAMS[stream]).read_text()
    name = entry_point(record["tests"][0])
    base = entry_point(original({r["id"]: r for r in records(stream)}, record)["tests"][0])
    if name != base:
        source += f"\n\ndef {name}(*args, **kwargs):\n    return {base}(*args, **kwargs)\n"
    return source


CASES = [(stream, r) for stream in STREAMS for r in records(stream)]


@pytest.mark.parametrize(("stream", "record"), CASES,
                         ids=[f"{s.split('.')[0]}:{r['id']}" for s, r in CASES])
def test_reference_passes_visible_and_hidden_tests(stream, record):
    tests = [Case(t) for t in record["tests"] + record["hidden_tests"]]
    verdict = run(program_for(stream, record), tests)
    assert verdict.passed, [(r.test, r.error_type, r.message) for r in verdict.failures]


@pytest.mark.parametrize("stream", STREAMS)
def test_stream_metadata_is_consistent(stream):
    rows = records(stream)
    seen: dict[str, dict] = {}
    reference = (REFERENCES / STREAMS[stream]).read_text()
    defined = {n.name for n in ast.parse(reference).body if isinstance(n, ast.FunctionDef)}
    for row in rows:
        assert row["id"] not in seen, f"duplicate id {row['id']}"
        assert row["family"] == row["id"].rsplit("-", 1)[0]
        assert 4 <= len(row["hidden_tests"]) <= 8, row["id"]
        assert not set(row["hidden_tests"]) & set(row["tests"]), row["id"]
        name = entry_point(row["tests"][0])
        assert all(entry_point(t) == name for t in row["tests"] + row["hidden_tests"]), row["id"]
        for earlier in [row.get("restates"), *row.get("uses", [])]:
            if earlier is not None:
                assert earlier in seen, f"{row['id']} refers to {earlier}, not an earlier task"
                assert seen[earlier]["family"] == row["family"], row["id"]
        if "restates" in row:
            assert "uses" not in row and row["prompt"] != seen[row["restates"]]["prompt"]
        elif stream in NEW_STREAMS:
            assert name in defined, f"the reference lacks {name} ({row['id']})"
        if stream in NEW_STREAMS:
            assert 2 <= len(row["tests"]) <= 4, row["id"]
            if "restates" in row:  # a new name: reuse must find the old module and wrap it
                assert name not in defined
                assert name != entry_point(seen[row["restates"]]["tests"][0]), row["id"]
        seen[row["id"]] = row
    lines = list(read_tasks(DATA / stream))
    assert [line.id for line in lines] == [r["id"] for r in rows]
    assert all(line.task is not None and line.task.hidden_tests for line in lines)


def test_new_streams_are_big_enough_and_do_not_share_families():
    families = {stream: {r["family"] for r in records(stream)} for stream in NEW_STREAMS}
    assert sum(len(records(s)) for s in NEW_STREAMS) >= 120
    for stream in NEW_STREAMS:
        rows = records(stream)
        assert len(families[stream]) >= 4
        assert sum("restates" in r for r in rows) >= 8 and sum("uses" in r for r in rows) >= 8
        for other in NEW_STREAMS:
            if other != stream:
                assert not families[stream] & families[other]
        first_restated = min(i for i, r in enumerate(rows) if "restates" in r)
        assert first_restated >= len(families[stream])  # building blocks come first
    assert not families["tune-1.jsonl"] & {r["family"] for r in records("compositional.jsonl")}
    assert [s for s in NEW_STREAMS if s.startswith("tune-")] == ["tune-1.jsonl"]


# Plausible wrong programs: each passes its task's visible tests and must fail the hidden ones.
WRONG = [
    ("tune-1.jsonl", "strings-03", "def max_run_uppercase(s):\n    run = last = 0\n"
     "    for c in s + 'x':\n        if c.isupper():\n            run += 1\n"
     "        else:\n            last, run = run or last, 0\n    return last\n"),
    ("tune-1.jsonl", "search-06", "import bisect\ndef count_between(a, lo, hi):\n"
     "    return bisect.bisect_right(a, hi) - bisect.bisect_left(a, lo)\n"),
    ("report-1.jsonl", "comb-01", "import math\ndef binomial(n, k):\n"
     "    return math.comb(n, k) if k <= n else 0\n"),
    ("report-1.jsonl", "duration-01", "def parse_duration(t):\n    total = 0\n"
     "    for part, mul in (('h', 3600), ('m', 60), ('s', 1)):\n        if part in t:\n"
     "            head, t = t.split(part)\n            total += int(head[-2:]) * mul\n"
     "    return total\n"),
    ("report-2.jsonl", "tuples-02", "def union_elements(a, b):\n    return tuple(set(a + b))\n"),
    ("report-2.jsonl", "grids-01", "def neighbors(rows, cols, r, c):\n"
     "    cells = [(r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)]\n"
     "    return [(i, j) for i, j in cells if 0 <= i < rows and 0 <= j < rows]\n"),
    ("compositional.jsonl", "primes-01", "def is_prime(n):\n"
     "    return n in (2, 3) or (n > 1 and n % 2 != 0 and n % 3 != 0)\n"),
]


@pytest.mark.parametrize(("stream", "task_id", "program"), WRONG,
                         ids=[f"{s.split('.')[0]}:{t}" for s, t, _ in WRONG])
def test_hidden_tests_catch_a_plausible_wrong_program(stream, task_id, program):
    record = next(r for r in records(stream) if r["id"] == task_id)
    assert run(program, [Case(t) for t in record["tests"]]).passed
    assert not run(program, [Case(t) for t in record["hidden_tests"]]).passed
