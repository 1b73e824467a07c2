"""Split tests into what the untrusted child evaluates and what the trusted harness judges.

Runs in the agentlib process (trusted), on trusted test sources and on the untrusted
program's source, which is only parsed here, never run. The harness receives the prepared
cases, so it needs no parser of its own and starts faster.

A prepared case is a plain dict for the harness:

- ``kind``: ``"assert"`` (judged in the harness: the truth of ``judge``), ``"doctest"``
  (judged in the harness: the output of ``judge`` against ``want``), ``"doctest-script"``
  and ``"script"`` (run whole in the child; the child reports its own success, so these
  are weaker — the verdict's detail says how many there were);
- ``calls``: the expressions the child evaluates; their values come back as tagged JSON
  of exact built-in types and are bound to ``__v`` in the harness;
- ``judge``: the expression evaluated in the harness with ``__v`` bound;
- ``imports``: standard-library modules the expressions name without importing them;
- ``setup`` runs before the program, in the child and in the harness; ``after`` (the earlier
  examples of a doctest) run after the program, one by one, in the child only; as in doctest,
  an exception in one of them does not stop the next;
- ``source`` (child-run kinds only): the code the child runs whole. Judged kinds never send
  the test's source to the child, so the expected values never enter untrusted memory.
"""

from __future__ import annotations

import ast
import builtins
import sys
from dataclasses import dataclass

from agentlib.errors import TaskFormatError
from agentlib.model import TestCase

WEAK_KINDS = ("script", "doctest-script")
_NOT_PRELOADED = {"antigravity", "this", "__hello__", "__phello__", "idlelib", "turtledemo"}


@dataclass(frozen=True)
class DoctestExample:
    """One `>>>` example: its source and the output it expects."""

    source: str
    want: str


def parse_doctest(text: str) -> list[DoctestExample]:
    """Parse `>>>` examples (with `...` continuations) and their expected output."""
    examples: list[DoctestExample] = []
    source: list[str] | None = None
    want: list[str] = []
    for line in text.strip("\n").splitlines():
        stripped = line.strip()
        if stripped.startswith(">>>"):
            if source is not None:
                examples.append(DoctestExample("\n".join(source), _want(want)))
            source, want = [stripped[4:] if stripped != ">>>" else ""], []
        elif source is not None and stripped.startswith("...") and not want:
            source.append(stripped[4:] if stripped != "..." else "")
        elif source is not None:
            if stripped or want:
                want.append(line.strip())
    if source is not None:
        examples.append(DoctestExample("\n".join(source), _want(want)))
    return examples


def _want(lines: list[str]) -> str:
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + ("\n" if lines else "")


def is_doctest(source: str) -> bool:
    """Tell whether a test's source is a doctest example rather than Python code."""
    return source.lstrip().startswith(">>>")


def defined_names(program: str) -> set[str]:
    """Return the top-level names a program (or setup code) binds."""
    names: set[str] = set()
    for node in ast.parse(program).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        else:
            for target in _targets(node):
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _targets(node: ast.stmt) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return list(node.targets)
    if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        return [node.target]
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return [node.target]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return [item.optional_vars for item in node.items if item.optional_vars]
    return []


def stdlib_names(source: str, bound: set[str]) -> list[str]:
    """Return standard-library modules that `source` uses without binding them."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Name) and node.id not in bound
                and node.id in sys.stdlib_module_names and not hasattr(builtins, node.id)):
            found.add(node.id)
    return sorted(found)


class _CallExtractor(ast.NodeTransformer):
    """Replace each outermost expression that touches program names by `__v[i]`."""

    def __init__(self, program_names: set[str]):
        self.program_names = program_names
        self.calls: list[ast.expr] = []

    def _touches_program(self, node: ast.AST) -> bool:
        return any(isinstance(n, ast.Name) and n.id in self.program_names for n in ast.walk(node))

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if self._touches_program(node.func):
            return self._extract(node)
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.program_names:
            return self._extract(node)
        return node

    def _extract(self, node: ast.expr) -> ast.AST:
        self.calls.append(node)
        return ast.Subscript(value=ast.Name(id="__v", ctx=ast.Load()),
                             slice=ast.Constant(value=len(self.calls) - 1), ctx=ast.Load())


def _locally_bound(expr: ast.AST) -> set[str]:
    """Names bound inside an expression (comprehension targets, lambda parameters, :=)."""
    bound: set[str] = set()
    for node in ast.walk(expr):
        if isinstance(node, ast.comprehension):
            bound.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Lambda):
            bound.update(a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg))
        elif isinstance(node, ast.NamedExpr):
            bound.add(node.target.id)
    return bound


def split_expression(expression: ast.expr, program_names: set[str]) -> tuple[list[str], str] | None:
    """Split an expression into (calls for the child, expression for the harness).

    Return None when an extracted call uses a name bound inside the expression itself (a
    comprehension variable, say): the child could not evaluate it on its own.
    """
    extractor = _CallExtractor(program_names)
    local = _locally_bound(expression)
    judged = extractor.visit(expression)
    ast.fix_missing_locations(judged)
    for call in extractor.calls:
        if any(isinstance(n, ast.Name) and n.id in local for n in ast.walk(call)):
            return None
    return [ast.unparse(c) for c in extractor.calls], ast.unparse(judged)


def prepare_case(test: TestCase, program_names: set[str]) -> dict:
    """Turn one test case into the harness's prepared form (see the module docstring)."""
    setup = test.setup
    source = test.source
    want = ""
    after: list[str] = []
    if is_doctest(source):
        examples = parse_doctest(source)
        judged = [e for e in examples if e.want]
        if len(judged) > 1 or (judged and judged[0] is not examples[-1]):
            raise TaskFormatError(
                f"doctest test {source[:60]!r} has several examples with output; "
                "split it with agentlib.sandbox.cases.doctest_cases()")
        if not examples:
            raise TaskFormatError(f"doctest test {source[:60]!r} has no `>>>` example")
        after = [e.source for e in examples[:-1]]
        source, want = examples[-1].source, examples[-1].want
    try:
        bound = program_names | defined_names(setup) | defined_names("\n".join(after))
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise TaskFormatError(f"test {test.source[:60]!r} is not valid Python "
                              f"(line {exc.lineno}: {exc.msg})") from exc
    case = {"test": test.source, "setup": setup, "after": after, "want": want, "calls": [], "judge": "",
            "imports": [], "source": ""}
    node = tree.body[0] if len(tree.body) == 1 else None
    if want and isinstance(node, ast.Expr):
        split = split_expression(node.value, bound)
        kind = "doctest"
    elif not want and isinstance(node, ast.Assert):
        split = split_expression(node.test, bound)
        kind = "assert"
    else:
        split = None
        kind = "doctest-script" if want else "script"
    if split is None:
        case.update(kind="doctest-script" if want else "script", source=source,
                    imports=stdlib_names(source, bound))
        return case
    calls, judge = split
    case.update(kind=kind, calls=calls, judge=judge,
                imports=sorted(set().union(*(stdlib_names(c, bound) for c in calls + [judge])))
                if calls else stdlib_names(judge, bound))
    return case


def prepare(program: str, tests: list[TestCase]) -> tuple[list[dict], str | None]:
    """Prepare every test; return (cases, the program's syntax error or None)."""
    try:
        names = defined_names(program)
        syntax = None
    except SyntaxError as exc:
        names = set()
        syntax = f"line {exc.lineno}: {exc.msg}"
    except (RecursionError, MemoryError, ValueError) as exc:
        names = set()
        syntax = f"the program could not be parsed ({type(exc).__name__})"
    return [prepare_case(t, names) for t in tests], syntax


def preload_modules(program: str, cases: list[dict], packages: dict[str, str]) -> list[str]:
    """Modules the test process imports before it drops privileges.

    The standard-library and allowed modules the program imports (anywhere in its source) or
    the tests name. Without bubblewrap the Python install may not be readable by the
    unprivileged uid (under /root, say); imported first, they are already in `sys.modules`.
    """
    wanted: set[str] = set()
    for node in ast.walk(ast.parse(program)):
        if isinstance(node, ast.Import):
            wanted.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            wanted.add(node.module)
    for case in cases:
        wanted.update(case["imports"])
    return sorted(name for name in wanted if name.split(".")[0] not in _NOT_PRELOADED and (
                  name.split(".")[0] in sys.stdlib_module_names
                  or name.split(".")[0] in packages))
