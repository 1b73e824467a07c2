"""Task files: agentlib's format, MBPP's records, and malformed input with file:line errors."""

from __future__ import annotations

import json

import pytest

from agentlib.agent.taskfile import parse_task, read_tasks
from agentlib.errors import TaskFormatError


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_agentlib_and_mbpp_records(tmp_path):
    f = _write(tmp_path / "t.jsonl", [
        json.dumps({"id": "a", "prompt": "Add.", "tests": ["assert add(1, 2) == 3"],
                    "entry_point": "add"}),
        json.dumps({"task_id": 11, "text": "Sub.", "code": "SECRET", "test_setup_code": "X = 1",
                    "test_list": ["assert sub(3, 1) == 2"]}),
        json.dumps({"task_id": 12, "prompt": "Mul.", "test_imports": ["import math"],
                    "test_list": ["assert mul(2, 2) == 4"]}),
    ])
    lines = list(read_tasks(f))
    assert [line.id for line in lines] == ["a", "11", "12"]
    assert all(line.error is None for line in lines)
    assert lines[0].task.entry_point == "add"
    assert lines[1].task.tests[0].setup == "X = 1"
    assert "SECRET" not in repr(lines[1].task)
    assert lines[2].task.tests[0].setup == "import math"


def test_malformed_lines_name_file_line_and_field(tmp_path):
    f = _write(tmp_path / "bad.jsonl", [
        json.dumps({"id": "ok", "prompt": "p", "tests": ["assert f(1) == 1"]}),
        "{not json",
        json.dumps({"id": "no-tests", "prompt": "p"}),
        json.dumps({"id": "bad-test", "prompt": "p", "tests": ["assert f(1) =="]}),
        json.dumps(["a", "list"]),
        "",
        json.dumps({"id": "bad-entry", "prompt": "p", "tests": ["assert f(1)"],
                    "entry_point": "not a name"}),
    ])
    lines = list(read_tasks(f))
    assert lines[0].task is not None
    assert f"{f}:2: invalid JSON" in lines[1].error
    assert lines[2].task is not None and lines[2].task.tests == []  # proposed when solved
    assert "tests[0] is not valid Python" in lines[3].error
    assert "expected a JSON object" in lines[4].error
    assert f"{f}:7:" in lines[5].error and "entry_point" in lines[5].error


def test_missing_file_is_a_task_format_error(tmp_path):
    with pytest.raises(TaskFormatError, match="cannot read task file"):
        list(read_tasks(tmp_path / "nope.jsonl"))


def test_empty_prompt_is_refused():
    with pytest.raises(TaskFormatError, match="prompt"):
        parse_task({"prompt": "  ", "tests": ["assert True"]}, "here")


HUMANEVAL_PROMPT = '''from typing import List


def below_zero(operations: List[int]) -> bool:
    """ Return True if the balance ever falls below zero.
    >>> below_zero([1, 2, 3])
    False
    >>> below_zero([1, 2, -4, 5])
    True
    """
'''


def test_humaneval_record_visible_doctests_hidden_check(tmp_path):
    record = {"task_id": "HumanEval/3", "prompt": HUMANEVAL_PROMPT, "entry_point": "below_zero",
              "canonical_solution": "    SECRET\n",
              "test": "def check(candidate):\n    assert candidate([]) is False\n"}
    task = parse_task(record, "he.jsonl:1")
    assert [t.source for t in task.tests] == ["assert below_zero([1, 2, 3]) == False",
                                              "assert below_zero([1, 2, -4, 5]) == True"]
    assert "check(below_zero)" in task.hidden_tests[0].source
    assert "SECRET" not in repr(task)


def test_doctest_examples_become_tests_only_when_tests_are_empty():
    prompt = "Double a number.\n>>> double(2)\n4\n>>> print('x')\nx\n"
    task = parse_task({"prompt": prompt, "tests": []}, "here")
    assert [t.source for t in task.tests] == ["assert double(2) == 4"]  # printed output skipped
    given = parse_task({"prompt": prompt, "tests": ["assert double(3) == 6"]}, "here")
    assert [t.source for t in given.tests] == ["assert double(3) == 6"]
    assert parse_task({"prompt": "No examples here.", "tests": []}, "here").tests == []


def test_examples_in_words_become_derived_tests_given_tests_stay_given():
    record = {"id": "v", "prompt": 'Count vowels: `vowel_count("Rain") => 2`; '
                                   'vowel_count("sky") returns 0.', "setup": "import math"}
    task = parse_task(record, "here")
    assert [(t.source, t.origin, t.setup) for t in task.tests] == [
        ('assert vowel_count("Rain") == 2', "derived", "import math"),
        ('assert vowel_count("sky") == 0', "derived", "import math")]
    given = parse_task({**record, "tests": ['assert vowel_count("a") == 1']}, "here")
    assert [t.origin for t in given.tests] == ["given"]


def test_entry_point_selects_the_examples_and_names_input_output():
    record = {"prompt": "Sum a list.\nInput: [1, 2, 3]\nOutput: 6", "entry_point": "total"}
    assert [t.source for t in parse_task(record, "here").tests] == [
        "assert total([1, 2, 3]) == 6"]
    # without a function to call, "Input: … Output: …" is not read: no tests (proposed later)
    assert parse_task({"prompt": "Sum a list.\nInput: [1, 2, 3]\nOutput: 6"}, "here").tests == []


def test_tests_of_the_wrong_type_are_refused():
    with pytest.raises(TaskFormatError, match="must be a list of strings"):
        parse_task({"prompt": "f(1) => 2", "tests": "assert f(1) == 2"}, "here")
    with pytest.raises(TaskFormatError, match="must be a list of strings"):
        parse_task({"prompt": "f(1) => 2", "tests": [1]}, "here")


def test_derived_origin_survives_the_batch_checkpoint_serializer():
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    from agentlib.agent.batch import ALLOWED_TYPES

    task = parse_task({"prompt": "f(1) => 2", "hidden_tests": ["assert f(2) == 3"]}, "here")
    serde = JsonPlusSerializer(allowed_msgpack_modules=ALLOWED_TYPES)
    back = serde.loads_typed(serde.dumps_typed({"task": task}))["task"]
    assert back == task
    assert [t.origin for t in back.tests] == ["derived"]
    assert [t.origin for t in back.hidden_tests] == ["given"]
