"""The examples development set: the shipped files, and the builder on a small MBPP sample
(tests/data/mbpp, reference code replaced by a marker). Pure Python: no LLM, no sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from agentlib.agent.examples import NOTATIONS, find_examples
from agentlib.agent.taskfile import parse_task
from agentlib.bench.examples_set import as_example, build, build_check, implied, main, measure

SHIPPED = Path(__file__).resolve().parents[1] / "agentlib" / "bench" / "data" / "examples"
SAMPLE = Path(__file__).parent / "data" / "mbpp"


def _records(name):
    return [json.loads(line) for line in (SHIPPED / name).read_text().splitlines()]


def test_shipped_tasks_with_examples_all_derive_tests_implied_by_the_hidden_ones():
    records = _records("with-examples.jsonl")
    assert len(records) >= 100
    assert {r["notation"] for r in records} == set(NOTATIONS)
    for record in records:
        task = parse_task(record, record["id"])
        originals = [w for w in map(as_example, record["hidden_tests"]) if w is not None]
        examples = find_examples(record["prompt"], record.get("entry_point"))
        assert task.tests and all(t.origin == "derived" for t in task.tests), record["id"]
        assert all(implied(e, originals) for e in examples), record["id"]
        assert len(task.hidden_tests) == len(record["hidden_tests"]) >= 3


def test_shipped_tasks_without_examples_have_none_and_name_their_function():
    records = _records("no-examples.jsonl")
    total = len(records) + len(_records("with-examples.jsonl"))
    assert 0.15 <= len(records) / total <= 0.25
    for record in records:
        assert record["entry_point"] and not find_examples(record["prompt"],
                                                           record["entry_point"])
        assert parse_task(record, record["id"]).tests == []  # the agent proposes them


def test_the_check_set_holds_other_tasks_than_the_development_set_and_no_examples(tmp_path):
    development = {r["id"] for name in ("with-examples.jsonl", "no-examples.jsonl")
                   for r in _records(name)}
    check = _records("no-examples-check.jsonl")
    assert len(check) >= 25 and not development & {r["id"] for r in check}
    for record in check:
        assert record["entry_point"] and not find_examples(record["prompt"],
                                                           record["entry_point"])
        assert parse_task(record, record["id"]).tests == [] and record["hidden_tests"]
    build(SAMPLE, tmp_path, train_tasks=6)
    assert build_check(SAMPLE, tmp_path, train_tasks=6)["tasks"] > 0
    built = {json.loads(line)["id"] for name in ("with-examples.jsonl", "no-examples.jsonl")
             for line in (tmp_path / name).read_text().splitlines()}
    checked = [json.loads(line) for line in
               (tmp_path / "no-examples-check.jsonl").read_text().splitlines()]
    assert checked and not built & {r["id"] for r in checked}
    assert "SECRET-REFERENCE-CODE" not in (tmp_path / "no-examples-check.jsonl").read_text()


def test_shipped_ids_trace_to_mbpp_and_no_reference_code_is_shipped():
    for record in (_records("with-examples.jsonl") + _records("no-examples.jsonl")
                   + _records("no-examples-check.jsonl")):
        number = record["id"].removeprefix("mbpp-")
        assert number.isdigit() and record["source"].endswith(f"task {number}")
        assert "code" not in record and "\ndef " not in record["prompt"]


def test_builder_rotates_notations_holds_tests_back_and_drops_the_code(tmp_path):
    figures = build(SAMPLE, tmp_path, train_tasks=6)
    assert figures["tasks"] == 12 and figures["without_examples"] == 2  # every fifth
    assert figures["derived"] == figures["implied"] == figures["examples_written"]
    assert figures.get("tasks_without_derived", 0) == 0
    text = (tmp_path / "with-examples.jsonl").read_text()
    assert "SECRET-REFERENCE-CODE" not in text + (tmp_path / "no-examples.jsonl").read_text()
    records = [json.loads(line) for line in text.splitlines()]
    assert [r["notation"] for r in records] == [*NOTATIONS, *NOTATIONS[:3]]
    first = records[0]
    assert first["id"] == "mbpp-554" and "tests" not in first and len(first["hidden_tests"]) == 3
    assert "Split([1,2,3,4,5,6]) => [1,3,5]" in first["prompt"]


def test_builder_output_is_reproducible(tmp_path):
    build(SAMPLE, tmp_path / "a", train_tasks=6)
    build(SAMPLE, tmp_path / "b", train_tasks=6)
    for name in ("with-examples.jsonl", "no-examples.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_measure_counts_per_notation_and_finds_no_wrong_test(capsys):
    table = measure(SAMPLE)
    assert set(table) == set(NOTATIONS)
    for row in table.values():
        assert row["wrong"] == 0 and row["read_back"] == row["written"] > 0
    assert main(["measure", str(SAMPLE)]) == 0
    assert "recall 1.000" in capsys.readouterr().out
