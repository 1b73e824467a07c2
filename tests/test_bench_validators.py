"""`agentlib bench validators`: figures over a corpus, through the real CLI and sandbox.

The MBPP builder is tested on MBPP-shaped records written here (not MBPP's own code)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentlib.bench.validator_corpus import build
from agentlib.bench.validators import read_corpus
from agentlib.cli import app
from agentlib.errors import TaskFormatError

DATA = Path(__file__).resolve().parents[1] / "agentlib" / "bench" / "data" / "validators"
SQUARE = ["assert square(2) == 4", "assert square(3) == 9", "assert square(12) == 144"]
ROWS = [
    {"id": "honest", "prompt": "Square x.", "tests": SQUARE, "expect": "correct",
     "program": "def square(x):\n    return x * x\n"},
    {"id": "table", "prompt": "Square x.", "tests": SQUARE, "expect": "wrong",
     "kind": "special_cased", "program": "def square(x):\n    return {2: 4, 3: 9, 12: 144}[x]\n"},
    {"id": "broken", "prompt": "Square x.", "tests": SQUARE, "expect": "wrong",
     "kind": "special_cased", "program": "def square(x):\n    return x + x\n"},
    {"id": "accepts-4", "prompt": "Tell primes.", "expect": "wrong", "kind": "plausible_bug",
     "tests": ["assert is_prime(2) == True", "assert is_prime(7) == True",
               "assert is_prime(10) == False"],
     "program": "def is_prime(n):\n    return n > 1 and all(n % d for d in range(2, int(n ** 0.5)))\n",
     "reference": "def is_prime(n):\n    return n > 1 and all(n % d for d in range(2, n))\n"},
]


def corpus(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def bench(*args: str, plugins: str = "validator-fuzz"):
    env = {"COLUMNS": "200", "AGENTLIB_PLUGINS": plugins}
    return CliRunner().invoke(app, ["bench", "validators", *args], env=env)


def test_json_figures_count_rejections_catches_and_skips(tmp_path):
    result = bench(str(corpus(tmp_path, ROWS)), "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert (figures["correct_rejected"], figures["correct_total"]) == (0, 1)
    assert (figures["wrong_caught"], figures["wrong_total"], figures["skipped"]) == (1, 2, 1)
    rows = {r["id"]: r for r in figures["rows"]}
    assert rows["table"]["rejected_by"] == ["special-cases", "fuzz"]
    assert rows["broken"]["status"] == "skipped" and "fails its own tests" in rows["broken"]["reason"]
    assert rows["accepts-4"]["status"] == "accepted" and not rows["accepts-4"]["flagged"]
    assert figures["by_kind"]["plausible_bug"] == {"flagged": 0, "total": 1,
                                                   "expect": "wrong"}


def test_evidence_finds_the_plausible_bug_and_the_table_shows_the_last_line(tmp_path):
    result = bench(str(corpus(tmp_path, ROWS)), "--evidence", plugins="")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "known-correct rejected: 0/1; known-wrong caught: 2/2"
    assert "plausible_bug" in result.stdout and "100%" in result.stdout


def test_a_malformed_line_is_reported_with_its_file_and_line(tmp_path):
    path = corpus(tmp_path, ROWS[:1])
    with path.open("a") as out:
        out.write(json.dumps({**ROWS[1], "expect": "maybe"}) + "\n")
    result = bench(str(path))
    assert result.exit_code == 1
    assert f"{path}:2" in result.output and "'expect' must be" in result.output
    with pytest.raises(TaskFormatError, match="appears twice"):
        read_corpus(corpus(tmp_path, [ROWS[0], ROWS[0]]))


def test_the_shipped_corpora_are_well_formed():
    correct, wrong = read_corpus(DATA / "correct.jsonl"), read_corpus(DATA / "wrong.jsonl")
    assert all(item.expect == "correct" for item in correct) and len(correct) >= 60
    assert {"stream", "issue-17", "domain"} <= {item.kind for item in correct}
    assert all(item.expect == "wrong" and item.reference for item in wrong)
    kinds = [item.kind for item in wrong]
    assert kinds.count("special_cased") >= 40 and kinds.count("plausible_bug") >= 20


def test_the_issue_17_programs_are_not_rejected(tmp_path):
    rows = [json.loads(line) for line in (DATA / "correct.jsonl").read_text().splitlines()
            if '"kind": "issue-17"' in line]
    result = bench(str(corpus(tmp_path, rows)), "--json")
    figures = json.loads(result.stdout)
    assert figures["correct_total"] == len(rows) >= 5 and figures["correct_rejected"] == 0


def test_the_mbpp_builder_reads_the_six_files_and_pairs_differing_variants(tmp_path):
    record = {"task_id": 7, "text": "Double x.", "code": "def double(x):\r\n    return 2 * x",
              "test_list": ["assert double(2) == 4"], "test_setup_code": ""}
    for variant in ("full", "sanitized"):
        for split in ("prompt", "validation", "train"):
            lines = [record] if split == "train" else []
            if variant == "sanitized" and lines:
                lines = [{**record, "prompt": record["text"], "code": "def double(x):\n"
                          "    return x + x", "test_imports": ["import math"]}]
            (tmp_path / f"{variant}-{split}.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in lines))
    full, sanitized = build(tmp_path)
    assert full["id"] == "mbpp-full-7" and full["kind"] == "mbpp-train"
    assert full["reference"].endswith("x + x") and sanitized["reference"].endswith("2 * x")
    assert sanitized["setup"] == "import math" and "setup" not in full
    (tmp_path / "full-prompt.jsonl").unlink()
    with pytest.raises(TaskFormatError, match="full-prompt.jsonl is missing"):
        build(tmp_path)


WRITER = '''
    import re

    from agentlib.llm import Completion
    from agentlib.plugins import hookimpl

    ANSWERS = {"square": "def square(x):\\n    return x ** 2\\n",
               "is_prime": "def is_prime(n):\\n    return n > 1 and all(n % d for d in "
                           "range(2, n))\\n",
               "cube": "def cube(x):\\n    return x * 3\\n"}


    class Writer:
        """Writes the function the prompt names (a fixed answer each; `cube` is wrong)."""

        name = "writer"

        def complete(self, messages, **options):
            name = re.search(r"function named `(\\w+)`", messages[-1]["content"]).group(1)
            return Completion(text="```python\\n" + ANSWERS[name] + "```")


    @hookimpl
    def register_llms(register):
        register("writer", lambda settings: Writer())
'''


def test_llm_writes_the_independent_implementation_as_the_agent_asks(tmp_path, monkeypatch):
    """The model here is a scripted plugin registered through the real `register_llms` hook
    (the test is about the evidence step's wiring, not about a model)."""
    import test_plugins_factory as factory

    import agentlib.plugins as plugins

    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(plugins, "_WARNED", set())
    factory.make_plugin(site, "agentlib-writer", "writer", WRITER)
    cube = {"id": "cube", "prompt": "Cube x.", "expect": "correct", "program":
            "def cube(x):\n    return x ** 3\n", "tests": ["assert cube(2) == 8",
                                                           "assert cube(3) == 27"]}
    rows = [r for r in ROWS if r["id"] in ("honest", "accepts-4")] + [cube]
    result = bench(str(corpus(tmp_path, rows)), "--json", "--llm", "writer", plugins="writer")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    by_id = {r["id"]: r for r in figures["rows"]}
    assert by_id["accepts-4"]["flagged"] and by_id["accepts-4"]["reference"] == "model"
    assert any(c.startswith("is_prime(4): True vs False") for c in
               by_id["accepts-4"]["counterexamples"])
    assert not by_id["honest"]["flagged"] and by_id["honest"]["agreed"] > 0
    assert by_id["cube"]["reference"] == "model failed its tests" and not by_id["cube"]["flagged"]
    assert figures["llm_calls"] == 3
    assert (figures["correct_rejected"], figures["wrong_caught"]) == (0, 1)
