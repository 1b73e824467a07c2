"""Read task files: agentlib's JSON Lines format, and MBPP's and HumanEval's records as they are.

agentlib:  {"id", "prompt", "entry_point" (optional), "tests": ["assert …", …],
            "setup" (optional), "hidden_tests" (optional, never shown to the agent)}
MBPP:      {"task_id", "text" | "prompt", "test_list", "test_setup_code" | "test_imports"}
HumanEval: {"task_id", "prompt", "entry_point", "test"}: the visible tests are the doctest
           examples in the prompt; `test` (its `check(candidate)`) becomes a hidden test.
When `tests` is empty or missing, the examples written in the prompt (`f(1) => 2`,
`>>> f(1)` then `2`, "Input: 1 Output: 2"…; see `agentlib.agent.examples`) become the tests,
each marked `origin="derived"`; a task with neither has no tests, and the agent proposes them
(`agentlib.agent.propose`) unless proposing is off. A reference solution (`code`,
`canonical_solution`) is never read.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from agentlib.agent.examples import derived_tests
from agentlib.errors import TaskFormatError
from agentlib.model import Task, TestCase


@dataclass
class TaskLine:
    """One line of a task file: a task, or the error that kept it from being one."""

    line: int
    id: str
    task: Task | None = None
    error: str | None = None


def _field(record: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in record:
            return record[name]
    return None


def parse_task(record: Any, where: str) -> Task:
    """Build a Task from one decoded record; `where` names the file and line for errors."""
    if not isinstance(record, dict):
        raise TaskFormatError(f"{where}: expected a JSON object, got {type(record).__name__}")
    prompt = _field(record, "prompt", "text")
    if not isinstance(prompt, str) or not prompt.strip():
        raise TaskFormatError(f"{where}: field 'prompt' (or MBPP's 'text') is missing or empty")
    tests = _field(record, "tests", "test_list")
    hidden = record.get("hidden_tests") or []
    entry = record.get("entry_point")
    if isinstance(record.get("test"), str) and isinstance(entry, str):  # HumanEval
        hidden = [record["test"] + f"\ncheck({entry})\n"]
    if tests is not None and (not isinstance(tests, list)
                              or not all(isinstance(t, str) for t in tests)):
        raise TaskFormatError(f"{where}: field 'tests' (or 'test_list') must be a list of "
                              "strings such as \"assert f(1) == 2\"")
    for n, test in enumerate(tests or []):
        try:
            ast.parse(test)
        except SyntaxError as exc:
            raise TaskFormatError(f"{where}: tests[{n}] is not valid Python ({exc.msg}): "
                                  f"{test[:80]!r}") from None
    setup = _field(record, "setup", "test_setup_code") or ""
    imports = record.get("test_imports") or []
    if isinstance(imports, list) and imports:
        setup = "\n".join([*imports, setup]).strip()
    if not isinstance(setup, str):
        raise TaskFormatError(f"{where}: field 'setup' must be a string")
    if not isinstance(hidden, list) or not all(isinstance(t, str) for t in hidden):
        raise TaskFormatError(f"{where}: field 'hidden_tests' must be a list of strings")
    if entry is not None and (not isinstance(entry, str) or not entry.isidentifier()):
        raise TaskFormatError(f"{where}: field 'entry_point' must be a Python identifier")
    cases = [TestCase(t, setup) for t in tests] if tests else \
        derived_tests(prompt, entry, setup)
    task_id = _field(record, "id", "task_id")
    return Task(prompt=prompt.strip(), tests=cases,
                id=str(task_id) if task_id is not None else "", entry_point=entry,
                hidden_tests=[TestCase(t, setup) for t in hidden])


def read_tasks(path: str | Path) -> Iterator[TaskLine]:
    """Yield every non-blank line of a task file as a task or an error naming file and line."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise TaskFormatError(f"cannot read task file {path}: {exc.strerror}") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(raw)
            except ValueError as exc:
                yield TaskLine(number, f"line-{number}", error=f"{where}: invalid JSON ({exc})")
                continue
            task_id = str(_field(record, "id", "task_id") or f"line-{number}") \
                if isinstance(record, dict) else f"line-{number}"
            try:
                task = parse_task(record, where)
            except TaskFormatError as exc:
                yield TaskLine(number, task_id, error=str(exc))
                continue
            task.id = task.id or task_id
            yield TaskLine(number, task.id, task=task)
