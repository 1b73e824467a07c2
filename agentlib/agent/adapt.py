"""Reuse with adaptation: a stored function that does what a task asks but under another
interface — its arguments in another order, a keyword for a positional argument (or the
other way round), a keyword under another name — is called through a thin wrapper.

`adaptations` lists the ways the task's call could map onto the function's parameters (at
most MAX_ADAPTATIONS, for calls of at most MAX_ARITY arguments); `try_reuse` runs each
wrapper on the task's tests in the sandbox, and only one that passes them all is reused.
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass

from agentlib.code import Call, accepts

MAX_ARITY = 3
"""Adapt calls of at most this many arguments, to functions of at most this many parameters."""
MAX_ADAPTATIONS = 6
"""Wrappers tried per stored function (3 arguments have 6 orders)."""


@dataclass(frozen=True)
class Adaptation:
    """Which parameter of the stored function each argument of the task's call goes to."""

    positional: tuple[str, ...]
    """The parameter each positional argument is passed to, in the call's order."""
    keywords: tuple[tuple[str, str], ...] = ()
    """(the call's keyword, the parameter it is passed to), in the call's order."""

    def describe(self, target: str) -> str:
        """The mapping as a reader sees it: `raise_to(a, b) -> power(base=b, exp=a)`."""
        given = [f"arg{i + 1}" for i in range(len(self.positional))] + [k for k, _ in
                                                                       self.keywords]
        mapped = [f"{p}={g}" for p, g in zip([*self.positional, *(p for _, p in self.keywords)],
                                              given, strict=True)]
        return f"({', '.join(given)}) -> {target}({', '.join(mapped)})"

    def wrapper(self, entry: str, target: str, function: ast.FunctionDef) -> str | None:
        """The source of `entry` calling `target` this way (None: Python cannot bind it)."""
        keywords = [k for k, _ in self.keywords]
        taken = {entry, target, *keywords}
        names = []
        for number, parameter in enumerate(self.positional, start=1):
            name = parameter if parameter not in taken else f"arg{number}"
            if name in taken:
                return None
            taken.add(name)
            names.append(name)
        value = dict(zip([*self.positional, *(p for _, p in self.keywords)],
                         [*names, *keywords], strict=True))
        order = [a.arg for a in function.args.posonlyargs + function.args.args]
        passed_by_position = list(itertools.takewhile(lambda p: p in value, order))
        by_keyword = [p for p in value if p not in passed_by_position]
        if not accepts(function, Call(len(passed_by_position), tuple(by_keyword))):
            return None
        arguments = [value[p] for p in passed_by_position] + [f"{p}={value[p]}"
                                                              for p in by_keyword]
        return (f"def {entry}({', '.join(names + keywords)}):\n"
                f"    \"\"\"Call {target} with the arguments it expects.\"\"\"\n"
                f"    return {target}({', '.join(arguments)})\n")


def adaptations(function: ast.FunctionDef, call: Call,
                limit: int = MAX_ADAPTATIONS) -> list[Adaptation]:
    """The ways to pass `call`'s arguments to `function` other than as the call passes them.

    Every required parameter gets an argument; a keyword the function has keeps its
    parameter; the binding the call itself makes (when `accepts` allows it, `try_reuse`
    has run it already) is left out. In a fixed order: arguments in the function's order
    first.
    """
    args = function.args
    parameters = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    if call.unpacked or not 0 < call.count <= MAX_ARITY or len(parameters) > MAX_ARITY:
        return []
    positional = [a.arg for a in args.posonlyargs + args.args]
    required = set(positional[:len(positional) - len(args.defaults)])
    required |= {a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                 if d is None}
    plain = (tuple(positional[:call.positional]), tuple((k, k) for k in call.keywords))
    found: list[Adaptation] = []
    for chosen in itertools.permutations(parameters, call.count):
        keywords = tuple(zip(call.keywords, chosen[call.positional:], strict=True))
        if not required <= set(chosen) or any(k != p and k in parameters
                                              for k, p in keywords):
            continue
        adaptation = Adaptation(chosen[:call.positional], keywords)
        if (adaptation.positional, adaptation.keywords) == plain and accepts(function, call):
            continue
        found.append(adaptation)
        if len(found) == limit:
            break
    return found
