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
from decimal import Decimal
from fractions import Fraction

from agentlib.model import TestCase

NOTATIONS = ("=>", "➞", "==", "->", "words", ">>>", "input-output")

_CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*) ?\(")  # `f (1)`: only for a known function
_ARROWS = "➞→⇒⟶⟹"
_WORDS = (r"returns|should\s+return|must\s+return|will\s+return|is\s+equal\s+to|"
          r"should\s+equal|equals|should\s+be|is|gives|should\s+give|evaluates\s+to")
_OPERATOR = re.compile(rf"[`\s]*(?:#\s*)?(?:(?P<sym>=>|==|->|[{_ARROWS}]|=(?!=))|"
                       rf"(?P<word>(?i:{_WORDS}))\b)[ \t]*`?")
_CONNECTORS = ("and", "but", "because", "since", "as", "while", "whereas", "when", "so",
               "then", "for", "which", "where")
_FOLLOW = re.compile(
    r"(?:\s*[.;:!?](?=\s|$|`|\*)|\s*,|[)\]}`*]|['\"](?=\s|$|[.,;:!?)\]])|\s+#|\s+\(|\s+[—–]|\s+--?\s|"
    rf"\s+(?:{'|'.join(_CONNECTORS)}|explanation)\b|\s+[A-Za-z_]\w* ?\(|\s*$)", re.IGNORECASE)
_LITERAL_START = re.compile(r"\s*(?:[-+\d'\"\[({]|True\b|False\b|None\b)")
_NUMBER = r"(?:0[bB][01_]+|0[oO][0-7_]+|0[xX][0-9a-fA-F_]+|\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d+)?j?"
_ATOM = re.compile(rf"[-+]?[ \t]*{_NUMBER}|True\b|False\b|None\b")
_STRING_PREFIX = re.compile(r"(?:[bBrRuU]|[bB][rR]|[rR][bB])?['\"]")
_LONGEST_LINE = 20_000  # longer lines are not read (the scan is quadratic in the worst case)
_STRING = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"")
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
        call = self.call if _is_plain(self.call) else f"({self.call})"
        if value is None:
            return f"assert {call} is None"
        if type(value) is float:
            shown = f"({self.expected})" if self.expected.lstrip().startswith("-") else self.expected
            return f"assert abs({call} - {shown}) <= {_tolerance(self.expected):.3g}"
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
    close = _closing(line, match.end() - 1)
    if close is None or not _callable_name(name) or not _stands_alone(line[:match.start()]):
        return None, match.end()
    call = line[match.start():close]
    if not _literal_call(call, name):
        return None, match.end()
    operator = _OPERATOR.match(line, close)
    if operator is None:
        return None, match.end()
    expected, end = _literal_prefix(line, operator.end(), call)
    if expected is None:
        return None, match.end()
    symbol = operator.group("sym")
    notation = ("words" if symbol is None else "➞" if symbol in _ARROWS
                else "==" if symbol == "=" else symbol)
    return Example(name, call, expected, notation), end


def _closing(text: str, open_at: int) -> int | None:
    """Return the index just past the bracket matching the one at `open_at`, skipping strings."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack: list[str] = []
    i = open_at
    while i < len(text):
        char = text[i]
        if char in "'\"":
            i = _string_end(text, i)
            if i is None:
                return None
            continue
        if char in pairs:
            stack.append(pairs[char])
        elif char in ")]}":
            if not stack or stack.pop() != char:
                return None
            if not stack:
                return i + 1
        elif char == "\n":
            return None
        i += 1
    return None


def _string_end(text: str, i: int) -> int | None:
    """Return the index just past the one-line string literal whose quote is at `i`."""
    match = _STRING.match(text, i)
    return match.end() if match else None


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


def _parse(source: str) -> ast.expr | None:
    try:
        return ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _literal_call(source: str, name: str) -> bool:
    node = _parse(source)
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == name):
        return False
    if any(k.arg is None for k in node.keywords):
        return False  # **kwargs (a starred argument is no literal either)
    return all(_is_literal(v) for v in [*node.args, *(k.value for k in node.keywords)])


def _is_literal(node: ast.AST) -> bool:
    """Tell whether `node` is a literal with no `...` in it (`[1, 2, ...]` is prose)."""
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return not any(isinstance(n, ast.Constant) and n.value is Ellipsis for n in ast.walk(node))


def _literal_prefix(line: str, start: int, call: str) -> tuple[str | None, int]:
    """Return the literal at `start` when it ends where an example may end, and its end."""
    text = line[start:].rstrip("\r\n")
    if text[:1] in ("(", "[", "{"):
        end = _closing(text, 0)
    elif (quote := _STRING_PREFIX.match(text)) is not None:
        end = _string_end(text, quote.end() - 1)
    else:
        end = atom.end() if (atom := _ATOM.match(text)) is not None else None
    if end is None:
        return None, start
    source, follow = text[:end].strip(), text[end:]
    if re.fullmatch(r"[-+]?\d+\.", source):
        source, follow = source[:-1], "." + follow  # "=> 6." ends a sentence
    if follow.lstrip()[:1] in ("'", '"') and follow[:1].isspace():
        return None, start + end  # implicit concatenation: 'ab' 'cd'
    after = re.match(r"\s*,|\s+and\b", follow)
    if after is not None and _LITERAL_START.match(follow[after.end():]):
        return None, start + end  # "returns 3, 1" or "returns 3 and 1": which is it?
    if not _FOLLOW.match(follow):
        return None, start + end
    return _value_source(source, call), start + end


def _value_source(source: str, call: str = "") -> str | None:
    """Return `source` when it is one unambiguous literal, else None."""
    node = _parse(source)
    if node is None or not _is_literal(node) or _adjacent_strings(source):
        return None
    if isinstance(node, ast.Tuple) and _closing(source, 0) != len(source):
        return None  # a bare tuple (`1, 2` or `(1, 2),`) reads as several values
    if not isinstance(node, (ast.Constant, ast.UnaryOp)) and not _floats_exact(node, call):
        return None
    return source


def _adjacent_strings(source: str) -> bool:
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
                  if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER)]
    except (tokenize.TokenError, SyntaxError):
        return True
    return any(a.type == b.type == tokenize.STRING for a, b in zip(tokens, tokens[1:], strict=False))


def _floats_exact(node: ast.AST, call: str) -> bool:
    """Tell whether every float in a container can be compared exactly: it is the number its
    digits say (0.5), it is copied from the call's arguments, or it is a printed repr (15 or
    more significant digits, compared exactly as doctest would)."""
    return all(Fraction(part.value) == Fraction(repr(part.value)) or repr(part.value) in call
               or _significant_digits(repr(part.value)) >= 15
               for part in ast.walk(node)
               if isinstance(part, ast.Constant) and type(part.value) is float)


def _significant_digits(written: str) -> int:
    mantissa = written.lower().split("e")[0].replace(".", "").lstrip("+-").lstrip("0")
    return len(mantissa)


def _tolerance(written: str) -> float:
    value = abs(float(ast.literal_eval(written)))
    digits = written.lstrip("+-").strip()
    if "e" in digits.lower() or "." not in digits:
        return max(1e-9 * value, 1e-12)
    places = -Decimal(digits).as_tuple().exponent
    return max(0.5 * 10.0 ** -places, 1e-9 * value)


def _is_plain(source: str) -> bool:
    return isinstance(_parse(source), (ast.Call, ast.Name, ast.Subscript, ast.Attribute))


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
    node = _parse(source)
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
    value = _value_source(" ".join(want.split("\n")), source)
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
        expected, _ = _literal_prefix(rest, skipped, call)
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
    if not given or not _literal_call(call, name):
        return None
    node = _parse(call)
    assert isinstance(node, ast.Call)
    if not node.keywords or params is None:
        return call  # named inputs and no signature: the names are part of the spec
    keys = [k.arg for k in node.keywords]
    if node.args or sorted(keys) != sorted(params):
        return None  # named inputs that do not match the signature
    values = {k.arg: ast.get_source_segment(call, k.value) for k in node.keywords}
    return f"{name}({', '.join(values[p] for p in params)})"
