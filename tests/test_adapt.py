"""Reuse with adaptation (`agent/adapt.py`, `try_reuse`): a stored function whose interface
differs from the task's — argument order, a keyword for a position, a renamed keyword — is
reused through a wrapper only when the wrapper passes all the task's tests, through the real
Chroma library and the real sandbox. The LLM is scripted: reuse must not call it, and where
no adaptation passes it writes the function (the test is about try_reuse, not the model)."""

from __future__ import annotations

import ast
import subprocess
import sys

from agentlib.agent import Agent
from agentlib.agent.adapt import MAX_ADAPTATIONS, Adaptation, adaptations
from agentlib.code import Call, docstring, find_function, module_id, signature
from agentlib.config import Settings
from agentlib.llm import Completion
from agentlib.model import Module, Task

POWER = '''def power(base, exp):
    """Return base raised to the power exp."""
    return base ** exp
'''
REPEAT = '''def repeat_text(text, times):
    """Return text repeated the given number of times."""
    return text * times
'''
PAD = '''def pad_text(text, width, *, fill=" "):
    """Return text padded on the left with fill to at least width characters."""
    return fill * max(0, width - len(text)) + text
'''


def _module(source: str, name: str, tests: list[str], prompt: str) -> Module:
    return Module(id=module_id(source), name=name, source=source,
                  signature=signature(source, name), docstring=docstring(source, name),
                  tests=tests, task_prompt=prompt, task_id="seed")


def _power() -> Module:
    return _module(POWER, "power", ["assert power(2, 3) == 8", "assert power(5, 0) == 1"],
                   "Write a function power(base, exp) that raises base to the power exp.")


class Scripted:
    """Answers with the given replies in turn; counts the calls."""

    name = "scripted"

    def __init__(self, *replies: str) -> None:
        self.replies, self.calls = list(replies), 0

    def complete(self, messages, **options):
        self.calls += 1
        return Completion("```python\n" + self.replies.pop(0) + "\n```")


def _solve(tmp_path, library, pm, task: Task, *replies: str):
    llm = Scripted(*replies)
    agent = Agent(Settings(store=str(tmp_path / "s"), llm="scripted"), llm=llm,
                  library=library, pm=pm)
    return agent.solve(task), llm


def _function(source: str, name: str) -> ast.FunctionDef:
    function = find_function(source, name)
    assert function is not None
    return function


def _runs_standalone(program: str, task: Task) -> None:
    script = program + "\n" + "\n".join(t.source for t in task.tests) + "\n"
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True,
                          timeout=60, text=True)
    assert done.returncode == 0, done.stderr


def test_the_adaptations_of_a_call_leave_out_its_own_binding_and_are_bounded():
    power = _function(POWER, "power")
    assert adaptations(power, Call(2)) == [Adaptation(("exp", "base"))]
    three = _function("def f(a, b, c):\n    return a\n", "f")
    found = adaptations(three, Call(3))
    assert len(found) == 5 and len(set(found)) == 5  # 3! orders, less the call's own
    assert len(adaptations(three, Call(3), limit=2)) == 2
    assert len(adaptations(three, Call(3))) <= MAX_ADAPTATIONS
    four = _function("def g(a, b, c, d):\n    return a\n", "g")
    assert adaptations(four, Call(4)) == [] and adaptations(four, Call(2)) == []
    # a keyword the function has keeps its parameter; one it lacks may go to any other
    assert adaptations(_function(REPEAT, "repeat_text"), Call(1, ("times",))) == []
    assert adaptations(_function(REPEAT, "repeat_text"), Call(1, ("count",))) == [
        Adaptation(("text",), (("count", "times"),)), Adaptation(("times",), (("count", "text"),))]


def test_a_stored_function_is_reused_with_its_arguments_in_another_order(tmp_path, library,
                                                                         builtin_pm):
    library.add(_power())
    task = Task.from_asserts(
        "Write a function raise_to(exp, base) that returns base to the power exp.",
        ["assert raise_to(2, 3) == 9", "assert raise_to(3, 2) == 8",
         "assert raise_to(0, 7) == 1"], id="raise")
    result, llm = _solve(tmp_path, library, builtin_pm, task)
    assert (result.decision, result.llm_calls, llm.calls) == ("reused", 0, 0)
    assert result.modules_used == ["power"]
    assert "def raise_to(exp, base):" in result.program
    assert "return power(base, exp)" in result.program
    reuse = next(s for s in result.trace if s.node == "try_reuse")
    assert "adapted call raise_to(arg1, arg2) -> power(exp=arg1, base=arg2)" in reuse.detail
    assert library.get("power").times_reused == 1 and library.get("raise_to") is None
    _runs_standalone(result.program, task)


def test_a_renamed_keyword_and_a_positional_keyword_only_argument_are_adapted(
        tmp_path, library, builtin_pm):
    library.add(_module(REPEAT, "repeat_text", ["assert repeat_text('ab', 2) == 'abab'"],
                        "Write a function repeat_text(text, times) that repeats a string."))
    library.add(_module(PAD, "pad_text", ["assert pad_text('7', 3) == '  7'"],
                        "Write a function pad_text that pads a string on the left."))
    renamed = Task.from_asserts(
        "Repeat a string a number of times.",
        ["assert repeat_string('ab', count=3) == 'ababab'",
         "assert repeat_string('x', count=0) == ''"], id="renamed")
    result, llm = _solve(tmp_path, library, builtin_pm, renamed)
    assert (result.decision, llm.calls, result.modules_used) == ("reused", 0, ["repeat_text"])
    assert "def repeat_string(text, count):" in result.program
    _runs_standalone(result.program, renamed)
    keyword_only = Task.from_asserts(
        "Pad a string on the left with a given character to a given width.",
        ["assert pad_left('7', 3, '0') == '007'", "assert pad_left('abc', 2, '*') == 'abc'"],
        id="keyword-only")
    result, llm = _solve(tmp_path, library, builtin_pm, keyword_only)
    assert (result.decision, llm.calls, result.modules_used) == ("reused", 0, ["pad_text"])
    assert "return pad_text(text, width, fill=fill)" in result.program
    _runs_standalone(result.program, keyword_only)


def test_no_adaptation_that_passes_every_test_means_no_reuse(tmp_path, library, builtin_pm):
    library.add(_power())
    task = Task.from_asserts(
        "Write a function last_digit_of_power(base, exp) that returns the last digit of base "
        "raised to the power exp.",
        ["assert last_digit_of_power(2, 10) == 4", "assert last_digit_of_power(3, 3) == 7",
         "assert last_digit_of_power(1, 2) == 1"], id="last-digit")
    result, llm = _solve(tmp_path, library, builtin_pm, task,
                         "def last_digit_of_power(base, exp):\n    return pow(base, exp, 10)")
    assert (result.decision, llm.calls) == ("created", 1)
    reuse = next(s for s in result.trace if s.node == "try_reuse")
    assert reuse.decision == "no module passed" and "1 adapted call(s) failed" in reuse.detail


def test_a_library_function_is_not_wrapped_under_its_own_name(tmp_path, library, builtin_pm):
    library.add(_power())
    same_name = Task.from_asserts("Write power(exp, base): base to the power exp.",
                                  ["assert power(2, 3) == 9", "assert power(3, 2) == 8"])
    result, llm = _solve(tmp_path, library, builtin_pm, same_name,
                         "def power(exp, base):\n    return base ** exp")
    assert (result.decision, llm.calls) == ("created", 1)
    reuse = next(s for s in result.trace if s.node == "try_reuse")
    assert "adapted" not in reuse.detail  # the wrapper would only call itself
