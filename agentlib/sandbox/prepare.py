"""Split tests into what the untrusted test process evaluates and what the harness judges.

Runs in the agentlib process (trusted), on trusted test sources and on the untrusted
program's source, which is only parsed here, never run. The harness receives the prepared
cases (`PreparedCase`, sent as plain JSON), so it needs no parser of its own and starts faster.

Only calls of the names the program defines (its functions, classes and constants — see
`names.program_names`) are evaluated by the test process; everything else in a test —
builtins, modules, setup names, the comparison — is evaluated by the harness with the real
objects. A program that rebinds a builtin, module or setup name the test uses is refused for
that test (`PreparedCase.refused`, see `names.shadowing`).
"""

from __future__ import annotations

import ast
import builtins
import sys
from dataclasses import asdict, dataclass
from typing import Literal

from agentlib.errors import TaskFormatError
from agentlib.model import TestCase
from agentlib.sandbox.names import (
    Binding,
    names_used,
    program_names,
    shadowing,
    top_level_bindings,
)

Kind = Literal["assert", "doctest", "doctest-script", "script"]
WEAK_KINDS = ("script", "doctest-script")
_NOT_PRELOADED = {"antigravity", "this", "__hello__", "__phello__", "idlelib", "turtledemo"}


@dataclass(frozen=True)
class PreparedCase:
    """One test as the harness runs it.

    `kind`: "assert" (the harness judges the truth of `judge`), "doctest" (the harness
    compares the output of `judge` with `want`), "doctest-script" and "script" (run whole in
    the test process, which reports its own success: weaker, the verdict's detail counts them).
    `calls`: the expressions the test process evaluates; their values come back as tagged
    values of exact built-in types, bound to `__v` for `judge`. `imports`: standard-library
    modules the expressions name without importing them. `setup` runs before the program, in
    the test process and in the harness; `after` (a doctest's earlier examples) run after the
    program, in the test process only, one by one. `source`: the code a child-run kind runs
    whole; judged kinds never send the test's source to the test process. `refused`: why the
    program may not run against this test ("" when it may).
    """

    test: str
    kind: Kind
    setup: str = ""
    after: tuple[str, ...] = ()
    want: str = ""
    calls: tuple[str, ...] = ()
    judge: str = ""
    imports: tuple[str, ...] = ()
    source: str = ""
    refused: str = ""

    def wire(self) -> dict:
        """The case as the harness reads it (plain JSON types)."""
        return asdict(self)


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
    """Return the top-level names a program (or setup code) defines, imports aside."""
    return program_names(top_level_bindings(program))


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


def _module_names(tree: ast.AST, used: set[str], test_bound: set[str],
                  program: set[str]) -> set[str]:
    """Standard-library modules a test names without binding them (the harness imports them).

    A name the program defines counts as a module only where the test uses it as one alone
    (`math.pi`); a test that calls it (`copy(x)`) means the program's function.
    """
    bases = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    other = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in bases}
    found = set()
    for name in used - test_bound:
        if name in sys.stdlib_module_names and not hasattr(builtins, name):
            if name not in program or name not in other:
                found.add(name)
    return found


def _split_doctest(test: TestCase) -> tuple[str, str, list[str]]:
    """Return (the last example's source, its expected output, the examples before it)."""
    examples = parse_doctest(test.source)
    judged = [e for e in examples if e.want]
    if len(judged) > 1 or (judged and judged[0] is not examples[-1]):
        raise TaskFormatError(
            f"doctest test {test.source[:60]!r} has several examples with output; "
            "split it with agentlib.sandbox.cases.doctest_cases()")
    if not examples:
        raise TaskFormatError(f"doctest test {test.source[:60]!r} has no `>>>` example")
    return examples[-1].source, examples[-1].want, [e.source for e in examples[:-1]]


def prepare_case(test: TestCase, bindings: list[Binding]) -> PreparedCase:
    """Turn one test case into the harness's prepared form (see `PreparedCase`)."""
    source, want, after = _split_doctest(test) if is_doctest(test.source) else (test.source, "", [])
    setup = test.setup
    try:
        setup_bindings = top_level_bindings(setup) if setup else []
        after_names = set().union(*(defined_names(example) for example in after))
        tree = ast.parse(source)
        used = names_used(source).union(*(names_used(example) for example in after))
    except SyntaxError as exc:
        raise TaskFormatError(f"test {test.source[:60]!r} is not valid Python "
                              f"(line {exc.lineno}: {exc.msg})") from exc
    names = program_names(bindings)
    setup_names = {b.name for b in setup_bindings}
    modules = _module_names(tree, used, setup_names | after_names, names)
    refused = shadowing(bindings, used, setup_bindings, modules) or ""
    candidate = (names - modules) | after_names
    if setup and names_used(setup) & names:  # setup that needs the program runs with it
        candidate |= setup_names
    bound = candidate | setup_names
    node = tree.body[0] if len(tree.body) == 1 else None
    split = None
    if want and isinstance(node, ast.Expr):
        split, kind = split_expression(node.value, candidate), "doctest"
    elif not want and isinstance(node, ast.Assert):
        split, kind = split_expression(node.test, candidate), "assert"
    common = dict(test=test.source, setup=setup, after=tuple(after), want=want, refused=refused)
    if split is None:
        return PreparedCase(kind="doctest-script" if want else "script", source=source,
                            imports=tuple(stdlib_names(source, bound)), **common)
    calls, judge = split
    imports = set().union(*(stdlib_names(c, bound) for c in calls + [judge]))
    return PreparedCase(kind=kind, calls=tuple(calls), judge=judge,
                        imports=tuple(sorted(imports)), **common)


def prepare(program: str, tests: list[TestCase]) -> tuple[list[PreparedCase], str | None]:
    """Prepare every test; return (cases, the program's syntax error or None)."""
    try:
        bindings = top_level_bindings(program)
        syntax = None
    except SyntaxError as exc:
        bindings = []
        syntax = f"line {exc.lineno}: {exc.msg}"
    except (RecursionError, MemoryError, ValueError) as exc:
        bindings = []
        syntax = f"the program could not be parsed ({type(exc).__name__})"
    return [prepare_case(t, bindings) for t in tests], syntax


def preload_modules(program: str, cases: list[PreparedCase], packages: dict[str, str]) -> list[str]:
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
        wanted.update(case.imports)
    return sorted(name for name in wanted if name.split(".")[0] not in _NOT_PRELOADED and (
                  name.split(".")[0] in sys.stdlib_module_names
                  or name.split(".")[0] in packages))
