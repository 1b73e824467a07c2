"""Prompt text only: what the model is told at each step."""

from __future__ import annotations

SYSTEM = (
    "You are an expert Python programmer. You write one correct, general Python function "
    "for the task. Reply with exactly one ```python code block holding the function (and any "
    "imports or small helpers it needs). Do not include tests, asserts, example calls or "
    "prints. Never special-case the example inputs."
)

GENERATE = """Task: {prompt}

Write a Python function named `{name}`. It must pass these tests:
{tests}
{library}"""

LIBRARY = """
These verified functions are already defined and you may call them by name (do not redefine
or import them):
{modules}
"""

REPAIR = """Your function failed some tests.

```python
{source}
```

Failures:
{failures}

Fix the function `{name}` so every test passes. Reply with the complete corrected function in
one ```python code block."""

EXTRACT_FAILED = """Your reply was rejected: {error}.

Reply with the complete Python function `{name}` in one ```python code block."""


def format_tests(tests: list[str]) -> str:
    return "\n".join(tests)


def format_modules(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)
