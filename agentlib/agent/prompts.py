"""Prompt text only: what the model is told at each step."""

from __future__ import annotations

SYSTEM = (
    "You are an expert Python programmer. You write one correct, general Python function "
    "for the task. Reply with exactly one ```python code block holding the function (and any "
    "imports or small helpers it needs). Do not include tests, asserts, example calls or "
    "prints. Never special-case the example inputs."
)

SYSTEM_REFLECT = (
    "You are a senior Python programmer who turns a mistake into a short, general lesson "
    "for other programmers. Follow the answer format exactly."
)

GENERATE = """Task: {prompt}

Write a Python function named `{name}`. It must pass these tests:
{tests}
{library}{insights}"""

GENERATE_PROPOSED = """Task: {prompt}

Write a Python function named `{name}`.
{library}{insights}"""
"""The first attempts at a task whose tests the model proposed: from the text alone, so that
the candidates are evidence independent of the tests that judge them (CodeT's dual agreement;
on the examples development set, candidates shown proposed tests copied their mistakes). The
repairs that follow show the proposed tests that failed."""

GENERATE_UNTESTED = """Task: {prompt}

Write a Python function named `{name}`.
"""

SAMPLE = """
(Solution {number} of {count}: write it your own way.)"""
"""Ends the prompt of each sample after the first, so that each is its own conversation."""

SYSTEM_PROPOSE = (
    "You are an expert Python tester. You write test cases for a function from its "
    "description, before the function exists. Reply with exactly one ```python code block "
    "holding only assert statements."
)

PROPOSE = """Task: {prompt}

Write {count} test cases for {function}, one per line, each of the form
`assert {call}(arguments) == expected_result` with literal arguments and a literal expected
result. Cover typical inputs and one edge case, and work out each expected result carefully
from the task. Do not write the function: reply with only the assert lines, in one ```python
code block."""

PROPOSE_NAMED = "the Python function `{name}`"
PROPOSE_SIGNED = "the Python function `{signature}` (call it with exactly these parameters)"
PROPOSE_UNNAMED = "the Python function this task describes (give it a short snake_case name)"

LIBRARY = """
These verified functions are already defined and you may call them by name (do not redefine
or import them):
{modules}
{code}"""

MODULE_CODE = """
The code of `{name}`:
```python
{source}
```
"""

INSIGHTS = """
Lessons learned on earlier tasks (use one only where its condition fits):
{lessons}
"""

REPAIR = """Your function failed some tests.

```python
{source}
```

Failures:
{failures}

Fix the function `{name}` so every test passes. Reply with the complete corrected function in
one ```python code block.{insights}"""

RESTART = """

An earlier answer to this task failed these tests:
{failures}
Read the task and the tests again and write `{name}` from scratch, another way."""

_REJECTED = """Your reply was rejected: {reason}.

Reply with the complete Python function `{name}` in one ```python code block."""

REJECTED = {
    "unparseable": _REJECTED,
    "rewrites_library": _REJECTED,
    "arity": _REJECTED,
    "special_cased": _REJECTED,
    "validator": _REJECTED,
}
"""The answer to each kind of rejection ({reason}, {name}); one text for all of them today."""

INDEPENDENT = """
Write the function straight from the description above, in the simplest correct way; the
tests are examples of it, not the whole specification."""
"""Appended to the task (as without a library) when the evidence step asks for an
independent implementation."""

COUNTEREXAMPLE = """Your function passes the tests, but an implementation of the same task
written independently returns something else on {count} of {compared} generated input(s):
{cases}

One of the two is wrong on these inputs. Decide from the task's description which result is
right. Reply with the complete function `{name}` in one ```python code block: corrected if the
other result is right, unchanged if yours is."""

COUNTEREXAMPLE_CASE = "- `{call}`: your function returned {candidate}; the other returned {reference}"

SPECIAL_CASED = ("the function special-cases the test inputs instead of solving the task: "
                 "{detail}")
VALIDATOR_REJECTED = "it passes the tests but a validator rejected it: {rejections}"


def format_tests(tests: list[str]) -> str:
    return "\n".join(tests)


def format_modules(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)

REFLECT = """A Python task was attempted and the first attempt failed.

Task: {prompt}
Tests:
{tests}

First attempt:
```python
{first}
```
It failed: {failures}

{outcome}

Write ONE general lesson that would help avoid this kind of mistake on OTHER tasks. Do not
mention this task's function name or restate the task. Answer in exactly this format:
TAXONOMY: <area/topic/detail in lowercase, e.g. strings/parsing/whitespace>
CONDITION: <when the lesson applies, one sentence>
EXPLANATION: <what to do and why, one or two sentences>
EXAMPLE: <one line of code>{misled}"""

REFLECT_FIXED = """The fix that passed:
```python
{fixed}
```"""

REFLECT_UNSOLVED = "No attempt passed the tests."

REFLECT_MISLED = """
MISLED: <the numbers of the lessons below that led the first attempt astray, or none>
Lessons shown to the first attempt:
{lessons}"""


def format_insights(insights: list) -> str:
    return "\n".join(f"{n}. [{i.taxonomy}] When {i.condition.rstrip('.')}: {i.explanation}"
                      + (f" Example: {i.example}" if i.example else "")
                      for n, i in enumerate(insights, start=1))
