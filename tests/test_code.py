"""The code-analysis package: one rule per question, on plain source text (no sandbox)."""

from __future__ import annotations

import ast

import pytest

from agentlib.code import (
    Call,
    DependencyError,
    accepts,
    candidate_program,
    dependencies,
    dependency_closure,
    dependency_problems,
    first_call,
    module_closure,
    module_id,
    program_source,
    rename_source,
)
from agentlib.model import Module


def _function(source: str) -> ast.FunctionDef:
    return ast.parse(source).body[0]


@pytest.mark.parametrize("signature, call, ok", [
    ("f(x, *, lo, hi)", "f(5, lo=0, hi=3)", True),
    ("f(x, *, lo, hi)", "f(5, 0, 3)", False),          # keyword-only: not by position
    ("f(x, *, lo, hi)", "f(5, lo=0)", False),          # hi has no default
    ("f(x, *, lo=0, hi=9)", "f(5)", True),
    ("f(a, b=0)", "f(1, b=2)", True),
    ("f(a, b=0)", "f(1, 2, b=2)", False),              # b given twice
    ("f(a, b=0)", "f(1, c=2)", False),
    ("f(a, **kw)", "f(1, c=2)", True),
    ("f(a, /, b)", "f(a=1, b=2)", False),              # positional-only by keyword
    ("f(a, /, **kw)", "f(1, a=2)", True),              # ... goes into **kw
    ("f(*args)", "f(1, 2, 3)", True),
    ("f(a, b)", "f(1)", False),
    ("f(a, b)", "f(*pair)", True),                     # unknown shape: accepted
])
def test_accepts_binds_arguments_like_python(signature, call, ok):
    function = _function(f"def {signature}:\n    pass\n")
    shape = first_call([f"assert {call}"], "f")
    assert accepts(function, shape) is ok
    namespace: dict = {}
    exec(f"def {signature}:\n    pass\n", namespace)  # our own constant code: Python agrees
    arguments = call[call.index("(") + 1:-1]
    try:
        exec(f"f({arguments})", {**namespace, "pair": (1, 2)})
        python_ok = True
    except TypeError:
        python_ok = False
    assert python_ok is ok


def test_first_call_describes_the_first_call_of_the_name():
    tests = ["assert abs(area(2, 3) - 6) < 1e-9", "assert area(w=1, h=1) == 1"]
    assert first_call(tests, "area") == Call(2)
    assert first_call(tests[1:], "area") == Call(0, ("w", "h"))
    assert first_call(tests, "volume") is None


def test_a_name_the_source_binds_itself_is_not_a_dependency():
    nested = ("def sum_primes(n):\n    def is_prime(k):\n        return k > 1 and all("
              "k % d for d in range(2, k))\n    return sum(k for k in range(n) if is_prime(k))\n")
    assert dependencies(nested, {"is_prime"}) == []
    local = "def f(text):\n    word_counts = text.split()\n    return len(word_counts)\n"
    assert dependencies(local, {"word_counts"}) == []
    imported = "from math import gcd\n\ndef f(a, b):\n    return gcd(a, b)\n"
    assert dependencies(imported, {"gcd"}) == []
    helper = "def helper(x):\n    return x\n\ndef f(x):\n    return helper(x)\n"
    assert dependencies(helper, {"helper"}) == []
    calls = "def f(n):\n    return [k for k in range(n) if is_prime(k)]\n"
    assert dependencies(calls, {"is_prime", "other"}) == ["is_prime"]


def test_dependency_problems_compare_a_declared_list_with_the_rule():
    nested = "def f(n):\n    def g(k):\n        return k\n    return g(n)\n"
    assert dependency_problems(nested, [], {"g"}) == []
    assert "defines g itself" in dependency_problems(nested, ["g"], {"g"}, "f")[0]
    calls = "def f(n):\n    return g(n)\n"
    assert dependency_problems(calls, [], {"g"}, "f") == []  # `dependencies` adds g
    assert "not an active module" in dependency_problems(calls, ["g"], set(), "f")[0]
    assert "does not parse" in dependency_problems("def f(:\n", [], set())[0]


def _module(name: str, source: str, deps=()) -> Module:
    return Module(id=module_id(source), name=name, source=source, signature=f"{name}(x)",
                  docstring="", tests=[], dependencies=list(deps))


def test_the_closure_is_topological_and_brings_each_module_once():
    base = _module("base", "def base(x):\n    return x\n")
    left = _module("left", "def left(x):\n    return base(x) + 1\n", ["base"])
    right = _module("right", "def right(x):\n    return base(x) + 2\n", ["base"])
    top = _module("top", "def top(x):\n    return left(x) + right(x)\n", ["left", "right"])
    modules = {m.name: m for m in (base, left, right, top)}
    order = [m.name for m in module_closure(top, modules.get)]
    assert order == ["base", "left", "right", "top"]
    program = candidate_program("def new(x):\n    return left(x) * right(x)\n",
                                ["left", "right"], modules.get)
    assert program.count("def base") == 1  # a shared dependency is not emitted twice
    assert program.index("def base") < program.index("def left") < program.index("def new")
    namespace: dict = {}
    exec(program, namespace)  # our own constant code
    assert namespace["new"](1) == 6
    assert program_source([base, base]).count("def base") == 1


def test_a_missing_dependency_or_a_cycle_is_a_dependency_error():
    a = _module("a", "def a(x):\n    return b(x)\n", ["b"])
    b = _module("b", "def b(x):\n    return a(x)\n", ["a"])
    with pytest.raises(DependencyError, match="dependency cycle: a -> b -> a"):
        module_closure(a, {"a": a, "b": b}.get)
    with pytest.raises(DependencyError, match="a depends on b, which is not an active module"):
        dependency_closure(["b"], {}.get, needed_by="a")


def test_rename_source_renames_the_function_and_its_uses():
    source = "def fact(n):\n    return 1 if n <= 1 else n * fact(n - 1)\n"
    renamed = rename_source(source, "fact", "factorial")
    assert "fact(" not in renamed.replace("factorial(", "")
    namespace: dict = {}
    exec(renamed, namespace)  # our own constant code
    assert namespace["factorial"](5) == 120
