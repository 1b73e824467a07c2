"""Literal values inside example text: where one ends, whether it is unambiguous, how exactly a
float compares (the reading half of `agentlib.agent.examples`)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from decimal import Decimal
from fractions import Fraction

_CONNECTORS = ("and", "but", "because", "since", "as", "while", "whereas", "when", "so",
               "then", "for", "which", "where")
_FOLLOW = re.compile(
    r"(?:\s*[.;:!?](?=\s|$|`|\*)|\s*,|[)\]}`*]|['\"](?=\s|$|[.,;:!?)\]])|\s+#|\s+\(|\s+[—–]|\s+--?\s|"
    rf"\s+(?:{'|'.join(_CONNECTORS)}|explanation)\b|\s+[A-Za-z_]\w* ?\(|\s*$)", re.IGNORECASE)
_LITERAL_START = re.compile(r"\s*(?:[-+\d'\"\[({]|True\b|False\b|None\b)")
_NUMBER = r"(?:0[bB][01_]+|0[oO][0-7_]+|0[xX][0-9a-fA-F_]+|\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d+)?j?"
_ATOM = re.compile(rf"[-+]?[ \t]*{_NUMBER}|True\b|False\b|None\b")
_STRING_PREFIX = re.compile(r"(?:[bBrRuU]|[bB][rR]|[rR][bB])?['\"]")
_STRING = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"")
def closing(text: str, open_at: int) -> int | None:
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


def parse_expression(source: str) -> ast.expr | None:
    try:
        return ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def literal_call(source: str, name: str) -> bool:
    node = parse_expression(source)
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


def literal_prefix(line: str, start: int, call: str) -> tuple[str | None, int]:
    """Return the literal at `start` when it ends where an example may end, and its end."""
    text = line[start:].rstrip("\r\n")
    if text[:1] in ("(", "[", "{"):
        end = closing(text, 0)
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
    return value_source(source, call), start + end


def value_source(source: str, call: str = "") -> str | None:
    """Return `source` when it is one unambiguous literal, else None."""
    node = parse_expression(source)
    if node is None or not _is_literal(node) or _adjacent_strings(source):
        return None
    if isinstance(node, ast.Tuple) and closing(source, 0) != len(source):
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


def tolerance(written: str) -> float:
    value = abs(float(ast.literal_eval(written)))
    digits = written.lstrip("+-").strip()
    if "e" in digits.lower() or "." not in digits:
        return max(1e-9 * value, 1e-12)
    places = -Decimal(digits).as_tuple().exponent
    return max(0.5 * 10.0 ** -places, 1e-9 * value)


def is_plain(source: str) -> bool:
    return isinstance(parse_expression(source), (ast.Call, ast.Name, ast.Subscript, ast.Attribute))
