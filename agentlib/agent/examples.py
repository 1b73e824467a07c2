"""Read the examples written in a task's text and turn them into derived tests.

Notations: `f(a) => v`, `f(a) ➞ v` (or → ⇒ ⟶), `f(a) == v` (or `=`), `f(a) -> v`,
"f(a) returns / should return / is / should be / gives v", `>>> f(a)` with `v` on the next
line, and "Input: a  Output: v" for a task with one function. They may sit in prose, in inline
code spans or in fenced blocks, several to a line, with trailing punctuation or a `#` before
the arrow. An example becomes `assert f(a) == v` only when the call's arguments and `v` are
Python literals and the example is the task's function's; anything else is skipped, never
guessed: "returns the sum", "f(x) is defined as…", a bare tuple `=> 1, 2`, implicit string
concatenation, a value followed by prose that could change it ("returns 2 values").
A float compares to the precision it is written with (`abs(f(a) - 3.14) <= 0.005`, at least
1e-9 relative); inside a container a float is compared exactly when that is what it says
(0.5; a value copied from the arguments; a printed repr of 15+ digits, as doctest compares),
and a container holding any other float (0.33) is skipped.
"""

from __future__ import annotations

import ast
import builtins
import io
import itertools
import keyword
import re
import tokenize
from dataclasses import dataclass

from agentlib.agent.example_literals import (
    closing,
    is_plain,
    literal_call,
    literal_prefix,
    parse_expression,
    tolerance,
    value_source,
)
from agentlib.model import TestCase

NOTATIONS = ("=>", "➞", "==", "->", "words", ">>>", "input-output")

_CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*) ?\(")  # `f (1)`: only for a known function
_ARROWS = "➞→⇒⟶⟹"
_WORDS = (r"returns|should\s+return|must\s+return|will\s+return|is\s+equal\s+to|"
          r"should\s+equal|equals|should\s+be|is|gives|should\s+give|evaluates\s+to")
_OPERATOR = re.compile(rf"[`\s]*(?:#\s*)?(?:(?P<sym>=>|==|->|[{_ARROWS}]|=(?!=))|"
                       rf"(?P<word>(?i:{_WORDS}))\b)[ \t]*`?")
_LONGEST_LINE = 20_000  # longer lines are not read (the scan is quadratic in the worst case)
_FENCE = re.compile(r"^\s*(```|~~~)")
_DEF = re.compile(r"\bdef\s+([A-Za-z_]\w*)\s*\(([^)]*)\)")
_MENTION = re.compile(r"`([A-Za-z_]\w*)\(\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)?\s*\)`")
_INPUT = re.compile(r"(?im)^[^\S\n]*[-*]?[^\S\n]*(?:example\s*\d*\s*[:.]?\s*)?(?:sample\s+)?"
                    r"input\s*\d*\s*:")
_OUTPUT = re.compile(r"(?i)\b(?:sample\s+|expected\s+)?output\s*\d*\s*:")


@dataclass(frozen=True)
class Example:
    """One example read from a text: a call, the value it should give, and its notation."""

    function: str
    call: str
    expected: str
    notation: str

    @property
    def test(self) -> str:
        """Return the `assert` statement this example stands for."""
        value = ast.literal_eval(self.expected)
        call = self.call if is_plain(self.call) else f"({self.call})"
        if value is None:
            return f"assert {call} is None"
        if type(value) is float:
            shown = f"({self.expected})" if self.expected.lstrip().startswith("-") else self.expected
            return f"assert abs({call} - {shown}) <= {tolerance(self.expected):.3g}"
        return f"assert {call} == {self.expected}"


def derived_tests(text: str, entry_point: str | None = None, setup: str = "") -> list[TestCase]:
    """Return one derived test per example in `text`, in order, without duplicates."""
    tests: list[str] = []
    for example in find_examples(text, entry_point):
        if example.test not in tests:
            tests.append(example.test)
    return [TestCase(t, setup, origin="derived") for t in tests]


def find_examples(text: str, entry_point: str | None = None) -> list[Example]:
    """Return the examples of the task's function in `text`, in the order they appear.

    The task's function is `entry_point`, else the one function the text `def`ines, else the
    one function every example calls, else (for "Input: … Output: …") the one function the
    text names in a code span such as `count(s)`; when none settles it, nothing is returned.
    """
    found = _doctest_examples(text) + _inline_examples(text)
    defined = _signatures(text, _DEF)
    mentioned = _signatures(text, _MENTION)
    called = {example.function for _, example in found
              if example.call.startswith(example.function + "(")}
    target = entry_point or (next(iter(defined)) if len(defined) == 1 else None)
    if target is None and len(called) == 1:
        target = next(iter(called))
    if target is None and not called and len(mentioned) == 1:
        target = next(iter(mentioned))
    if target is None:
        return []
    if len(defined) <= 1 and len(called - {target}) == 0:  # a task with one function
        params = defined.get(target, mentioned.get(target) if len(mentioned) == 1 else None)
        found += _input_output_examples(text, target, params)
    return [example for _, example in sorted(found, key=lambda pair: pair[0])
            if example.function == target]


def task_function(text: str) -> str | None:
    """Return the function a task's text names: the one it `def`ines, else the one it shows
    in a code span such as `count(s)`; None when the text names none, or several."""
    defined = _signatures(text, _DEF)
    if len(defined) == 1:
        return next(iter(defined))
    mentioned = _signatures(text, _MENTION)
    return next(iter(mentioned)) if not defined and len(mentioned) == 1 else None


def _inline_examples(text: str) -> list[tuple[int, Example]]:
    found = []
    offset = 0
    for line in text.splitlines(keepends=True):
        start, offset = offset, offset + len(line)
        if _FENCE.match(line) or line.lstrip().startswith((">>>", "... ")) or \
                len(line) > _LONGEST_LINE:
            continue
        position = 0
        while (match := _CALL.search(line, position)) is not None:
            example, end = _example_at(line, match)
            if example is not None:
                found.append((start + match.start(), example))
            position = end if example is not None else match.end()
    return found


def _example_at(line: str, match: re.Match[str]) -> tuple[Example | None, int]:
    name = match.group(1)
    close = closing(line, match.end() - 1)
    if close is None or not _callable_name(name) or not _stands_alone(line[:match.start()]):
        return None, match.end()
    call = line[match.start():close]
    if not literal_call(call, name):
        return None, match.end()
    operator = _OPERATOR.match(line, close)
    if operator is None:
        return None, match.end()
    expected, end = literal_prefix(line, operator.end(), call)
    if expected is None:
        return None, match.end()
    symbol = operator.group("sym")
    notation = ("words" if symbol is None else "➞" if symbol in _ARROWS
                else "==" if symbol == "=" else symbol)
    return Example(name, call, expected, notation), end


def _callable_name(name: str) -> bool:
    return not keyword.iskeyword(name) and not hasattr(builtins, name)


def _stands_alone(before: str) -> bool:
    """Tell whether a call preceded by `before` is the whole left side, not part of one."""
    stripped = before.rstrip(" \t`")
    if stripped.endswith("**"):  # bold
        stripped = stripped[:-2].rstrip(" \t`")
    if not stripped or stripped[-1] in "([{,:;'\"":
        return True
    if re.fullmatch(r"\s*(?:[-+*•>]|\d+[.)])", stripped):
        return True  # a bullet, a list number or a quote marker at the start of the line
    if stripped[-1] == "." and stripped != before:
        return True  # the end of a sentence, "e.g."
    if stripped[-1] in "+-*/%<>=!&|^~@.\\":
        return False
    return re.search(r"\b(?:not|or|if|elif|else|while|return|yield|in|is|def|class|lambda)$",
                     stripped) is None


def _doctest_examples(text: str) -> list[tuple[int, Example]]:
    """Read `>>> expr` lines with the value on the lines below (up to a blank line)."""
    # A closing docstring quote right under the value would join it (same length: offsets hold).
    lines = text.replace('"""', "\n  ").replace("'''", "\n  ").splitlines(keepends=True)
    starts = [0, *itertools.accumulate(len(line) for line in lines)]
    found = []
    for i, line in enumerate(lines):
        prompt = re.match(r"\s*>>> ?(.*)$", line.rstrip("\r\n"))
        if prompt is None or (i + 1 < len(lines) and lines[i + 1].lstrip().startswith("... ")):
            continue
        want = []
        for after in lines[i + 1:]:
            if not after.strip() or after.lstrip().startswith(">>>") or _FENCE.match(after):
                break
            want.append(after.strip())
        example = _doctest_example(prompt.group(1).strip(), "\n".join(want))
        if example is not None:
            found.append((starts[i], example))
    return found


def _doctest_example(source: str, want: str) -> Example | None:
    source, directive = _without_comment(source)
    if directive:
        return None  # `# doctest: +SKIP`, `+ELLIPSIS`…: the output is not checked as shown
    node = parse_expression(source)
    if node is None:
        return None
    calls = [n.func.id for n in ast.walk(node)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
             and _callable_name(n.func.id)]
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    if len(set(calls)) != 1 or any(n not in calls and not hasattr(builtins, n) for n in names):
        return None  # no call of the task's function, or a name set by an earlier line
    if "print" in names or not want:
        return None  # printed output is not a return value
    value = value_source(" ".join(want.split("\n")), source)
    return Example(calls[0], source, value, ">>>") if value is not None else None


def _without_comment(source: str) -> tuple[str, bool]:
    """Return the source without its trailing `#` comment, and whether it was a directive."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                cut = token.start[1]
                return source[:cut].rstrip(), "doctest:" in token.string
    except (tokenize.TokenError, SyntaxError):
        return source, False
    return source, False


def _signatures(text: str, pattern: re.Pattern[str]) -> dict[str, list[str]]:
    """Return the functions `pattern` finds in the text, each with its parameter names."""
    found: dict[str, list[str]] = {}
    for match in pattern.finditer(text):
        if not _callable_name(match.group(1)):
            continue
        names = []
        for param in (match.group(2) or "").split(","):
            param = param.split(":")[0].split("=")[0].strip().lstrip("*")
            if param and param != "self":
                names.append(param)
        found.setdefault(match.group(1), names)
    return found


def _input_output_examples(text: str, name: str, params: list[str] | None
                           ) -> list[tuple[int, Example]]:
    found = []
    for label in _INPUT.finditer(text):
        output = _OUTPUT.search(text, label.end())
        if output is None or text.count("\n", label.end(), output.start()) > 1 or \
                _INPUT.search(text, label.end(), output.start()):
            continue
        given = text[label.end():output.start()].strip().strip("`").strip()
        given = re.sub(r"\s*(?:=>|->|[" + _ARROWS + r"]|[,;])\s*$", "", given).strip("`").strip()
        call = _input_call(name, given, params)
        if call is None:
            continue
        rest = _line_at(text, output.end())
        if not rest.strip():  # the value on the line below the label
            rest = _line_at(text, output.end() + len(rest) + 1)
        skipped = len(rest) - len(rest.lstrip(" \t`"))
        expected, _ = literal_prefix(rest, skipped, call)
        if expected is not None:
            found.append((label.start(), Example(name, call, expected, "input-output")))
    return found


def _line_at(text: str, start: int) -> str:
    end = text.find("\n", start)
    return text[start:end if end >= 0 else len(text)]


def _input_call(name: str, given: str, params: list[str] | None) -> str | None:
    if re.fullmatch(r"[-+]?\d+\.", given):
        given = given[:-1]
    call = f"{name}({given})"
    if not given or not literal_call(call, name):
        return None
    node = parse_expression(call)
    assert isinstance(node, ast.Call)
    if not node.keywords or params is None:
        return call  # named inputs and no signature: the names are part of the spec
    keys = [k.arg for k in node.keywords]
    if node.args or sorted(keys) != sorted(params):
        return None  # named inputs that do not match the signature
    values = {k.arg: ast.get_source_segment(call, k.value) for k in node.keywords}
    return f"{name}({', '.join(values[p] for p in params)})"
