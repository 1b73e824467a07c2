"""Tests for a task that has none: `propose` asks the model for a few asserts, in a
conversation of their own before any code is written, and keeps those that check the task's
function on literal arguments against a literal result.

A proposal is evidence, not a specification: `select` (agent/agreement.py) chooses among
candidates by their agreement with each other and with these tests, never dropping a
candidate on a proposed test alone, and a module stored from them is `unconfirmed`
(agentlib.verify.record) until a person confirms it.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from langgraph.runtime import Runtime

from agentlib.agent import prompts
from agentlib.agent.context import SolveContext
from agentlib.agent.example_literals import literal_call, value_source
from agentlib.agent.examples import Example, task_function
from agentlib.agent.retrieve import step
from agentlib.agent.state import SolveState
from agentlib.errors import TaskFormatError
from agentlib.model import Attempt, Reply, Task, TestCase

if TYPE_CHECKING:
    from agentlib.llm import LLM
    from agentlib.runtime import Runtime as AgentRuntime

ASKED = 5
"""Test cases the prompt asks for."""
KEPT = 6
"""At most this many proposed tests are kept (a model may write more than asked)."""
MAX_TOKENS = 400
"""Enough for a few asserts; a reply that goes on to write the function is cut short."""
_BLOCK = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


@dataclass
class Proposal:
    """The tests the model proposed, the function they call, and the completion."""

    entry_point: str | None
    tests: list[TestCase]
    reply: Reply


def _asserts(text: str) -> list[ast.Assert]:
    """The assert statements of a reply's code blocks (the whole reply when it has none);
    a block that does not parse is read line by line, so one bad line loses only itself."""
    found: list[ast.Assert] = []
    for block in _BLOCK.findall(text) or [text]:
        try:
            found += [n for n in ast.parse(block).body if isinstance(n, ast.Assert)]
            continue
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
        for line in block.splitlines():
            if not line.strip().startswith("assert"):
                continue
            try:
                found += [n for n in ast.parse(line.strip()).body if isinstance(n, ast.Assert)]
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
    return found


def _example(node: ast.Assert) -> Example | None:
    """The assert as an example, when it is `assert f(literals) == literal`."""
    test = node.test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq) and isinstance(test.left, ast.Call)
            and isinstance(test.left.func, ast.Name)):
        return None
    name, call = test.left.func.id, ast.unparse(test.left)
    if not literal_call(call, name) or hasattr(builtins, name):
        return None
    expected = value_source(ast.unparse(test.comparators[0]), call)
    return Example(name, call, expected, "proposed") if expected is not None else None


def _shape(example: Example) -> tuple[int, tuple[str | None, ...]]:
    call = ast.parse(example.call, mode="eval").body
    assert isinstance(call, ast.Call)
    return len(call.args), tuple(k.arg for k in call.keywords)


def parse_proposed(text: str, entry_point: str | None = None
                   ) -> tuple[str | None, list[TestCase]]:
    """Read the tests a reply proposes: `assert f(literals) == literal` for the task's function
    only (`entry_point`, else the function most of the asserts call), one per input, all with
    the first one's arguments; everything else is skipped. Return the function and the tests
    (origin ``proposed``; a float is compared to the precision it is written with)."""
    examples = [e for n in _asserts(text) if (e := _example(n)) is not None]
    if entry_point is None:
        names = Counter(e.function for e in examples)
        if not names:
            return None, []
        entry_point = names.most_common(1)[0][0]  # ties: the first seen
    mine = [e for e in examples if e.function == entry_point]
    kept: list[TestCase] = []
    calls: set[str] = set()
    for example in mine:
        if example.call in calls or _shape(example) != _shape(mine[0]):
            continue  # a second answer for the same input, or another signature
        calls.add(example.call)
        kept.append(TestCase(example.test, origin="proposed"))
    return entry_point, kept[:KEPT]


def ask_for_tests(llm: "LLM", prompt: str, name: str | None,
                  on_token: Callable[[str], None] | None = None,
                  signature: str | None = None) -> Proposal:
    """Ask the model to propose tests for the task `prompt` (its function `name`, if known;
    its `signature` as `name(parameters)`, if known)."""
    if signature:
        function = prompts.PROPOSE_SIGNED.format(signature=signature)
    elif name:
        function = prompts.PROPOSE_NAMED.format(name=name)
    else:
        function = prompts.PROPOSE_UNNAMED
    user = prompts.PROPOSE.format(prompt=prompt, count=ASKED, function=function,
                                  call=name or "function_name")
    messages = [{"role": "system", "content": prompts.SYSTEM_PROPOSE},
                {"role": "user", "content": user}]
    options: dict[str, Any] = {"max_tokens": MAX_TOKENS}
    if on_token:
        options["on_token"] = on_token
    completion = llm.complete(messages, **options)
    entry, tests = parse_proposed(completion.text, name)
    return Proposal(entry, tests, Reply(completion.text, completion.prompt_tokens,
                                        completion.completion_tokens, completion.latency_s))


def propose(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Ask the model for tests of a task that has none; they become the task's tests."""
    start = time.monotonic()
    ctx = runtime.context
    task = state["task"]
    name = state.get("entry_point") or task_function(task.prompt)
    proposal = ask_for_tests(ctx.llm(), task.prompt, name, ctx.on_token)
    reply = proposal.reply
    tokens = reply.prompt_tokens + reply.completion_tokens
    if not proposal.tests:
        of = f" of {name}" if name else ""
        return {"side_replies": [reply], "stopped": (
                    f"the model proposed no usable test{of} (an `assert f(literals) == "
                    "literal`); give tests, or examples in the text such as `f(1) => 2`"),
                "steps": step("propose", "no usable test", " ".join(reply.text.split())[:300],
                              start, state, tokens)}
    sources = [t.source for t in proposal.tests]
    return {"task": dataclasses.replace(task, tests=proposal.tests),
            "entry_point": proposal.entry_point, "side_replies": [reply],
            "steps": step("propose", f"{len(sources)} test(s) proposed", "\n".join(sources),
                          start, state, tokens)}


def write_untested(runtime: "AgentRuntime", task: Task) -> Attempt:
    """One completion from the task's text alone, its function extracted and nothing run: the
    model by itself on a task without tests (benchmarks judge it by their hidden tests)."""
    from agentlib.agent.ask import ask
    from agentlib.agent.policy import Request
    from agentlib.agent.requests import Shown

    entry = task.entry_point or task_function(task.prompt)
    if not entry:
        raise TaskFormatError(f"task {task.id or task.prompt[:40]!r} has no tests and names no "
                              "function; give `entry_point`")
    user = prompts.GENERATE_UNTESTED.format(prompt=task.prompt, name=entry)
    request = Request("generate", [{"role": "system", "content": prompts.SYSTEM},
                                   {"role": "user", "content": user}])
    state: SolveState = {"task": task, "entry_point": entry, "hits": []}
    return ask(state, SolveContext(runtime), request, Shown())["pending"]
