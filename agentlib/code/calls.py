"""The one arity rule: can this function take the arguments a call passes (`accepts`)?"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from agentlib.code.names import named_calls


@dataclass(frozen=True)
class Call:
    """How a call passes its arguments: how many by position, which names by keyword."""

    positional: int
    keywords: tuple[str, ...] = ()
    unpacked: bool = False
    """`*args` or `**kwargs` at the call site: the shape is not known statically."""

    @property
    def count(self) -> int:
        """How many arguments the call passes."""
        return self.positional + len(self.keywords)

    @classmethod
    def of(cls, node: ast.Call) -> "Call":
        """Describe an `ast.Call`."""
        starred = any(isinstance(a, ast.Starred) for a in node.args)
        return cls(positional=sum(not isinstance(a, ast.Starred) for a in node.args),
                   keywords=tuple(k.arg for k in node.keywords if k.arg is not None),
                   unpacked=starred or any(k.arg is None for k in node.keywords))


def first_call(tests: list[str], name: str) -> Call | None:
    """Return how the tests call `name` (the first call found), or None when they do not."""
    for node in named_calls(tests):
        if node.func.id == name:
            return Call.of(node)
    return None


def accepts(function: ast.FunctionDef | ast.AsyncFunctionDef, call: Call) -> bool:
    """Tell whether `function` can be called as `call` calls it, by Python's binding rules.

    Keyword-only parameters and `**kwargs` take keyword arguments, `*args` takes extra
    positional ones; every parameter without a default must be given. A call that unpacks
    `*args` or `**kwargs` is accepted (its shape is not known).
    """
    if call.unpacked:
        return True
    args = function.args
    positional = [a.arg for a in args.posonlyargs + args.args]
    if call.positional > len(positional) and args.vararg is None:
        return False
    filled = set(positional[:call.positional])
    by_keyword = {a.arg for a in args.args + args.kwonlyargs}
    for keyword in call.keywords:
        if keyword in by_keyword:
            if keyword in filled:
                return False  # given twice
            filled.add(keyword)
        elif args.kwarg is None:
            return False
    required = set(positional[:len(positional) - len(args.defaults)])
    required |= {a.arg for a, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                 if default is None}
    return required <= filled
