"""The two rules the agent and the library share, end to end through the real library, the
real sandbox and the CLI: what a stored function depends on, and which arguments a stored
function can take."""

from __future__ import annotations

import pytest
import scenarios
from typer.testing import CliRunner

from agentlib.agent import Agent
from agentlib.code import docstring, module_id, signature
from agentlib.config import Settings
from agentlib.errors import StoreError
from agentlib.model import Module, Task

SUM_PRIMES = '''def sum_primes(n):
    """Return the sum of the primes below n."""
    def is_prime(k):
        return k > 1 and all(k % d for d in range(2, k))
    return sum(k for k in range(n) if is_prime(k))
'''

CLAMP = '''def clamp(x, *, lo, hi):
    """Return x limited to the range lo..hi."""
    return max(lo, min(hi, x))
'''


def _module(name: str, source: str, tests: list[str], deps=()) -> Module:
    return Module(id=module_id(source), name=name, source=source,
                  signature=signature(source, name), docstring=docstring(source, name),
                  tests=tests, dependencies=list(deps), task_prompt=docstring(source, name),
                  task_id=name)


class Scripted:
    """A fake model that always writes the same reply (the test is about what is stored)."""

    name = "scripted"

    def __init__(self, reply: str) -> None:
        self.reply, self.calls = reply, 0

    def complete(self, messages, **options):
        from agentlib.llm import Completion

        self.calls += 1
        return Completion(self.reply)


def test_a_function_defining_its_own_helper_does_not_depend_on_the_library_s(
        tmp_path, library, builtin_pm):
    library.add(scenarios.is_prime_module())
    llm = Scripted(f"```python\n{SUM_PRIMES}```")
    agent = Agent(Settings(store=library.location, llm="scripted"), llm=llm, library=library,
                  pm=builtin_pm)
    task = Task.from_asserts("Write a function sum_primes(n) that sums the primes below n.",
                             ["assert sum_primes(10) == 17", "assert sum_primes(2) == 0"])
    result = agent.solve(task)
    assert (result.status, result.decision, llm.calls) == ("solved", "created", 1)
    assert library.get("sum_primes").dependencies == []
    assert result.modules_used == []
    # The library refuses the wrong list too, with the same rule.
    wrong = _module("sum_primes", SUM_PRIMES.replace("Return the sum", "Sum"),
                    ["assert sum_primes(10) == 17"], ["is_prime"])
    with pytest.raises(StoreError, match="defines is_prime itself"):
        library.add(wrong)
    # So nothing holds is_prime: it can be removed, through the CLI as a user would.
    from agentlib.cli import app

    removed = CliRunner().invoke(app, ["lib", "rm", "is_prime", "--library", library.location])
    assert removed.exit_code == 0, removed.output
    assert library.get("is_prime") is None and library.check() == []


def test_an_exported_package_imports_only_real_dependencies(tmp_path, library):
    from agentlib.library.portable import export_package

    library.add(scenarios.is_prime_module())
    library.add(_module("sum_primes", SUM_PRIMES, ["assert sum_primes(10) == 17"]))
    export_package(library, tmp_path / "pkg", "primes")
    exported = (tmp_path / "pkg" / "primes" / "sum_primes.py").read_text()
    assert "import is_prime" not in exported


def test_a_function_with_keyword_only_parameters_is_reused_when_tests_pass_them_by_keyword(
        tmp_path, library, builtin_pm):
    library.add(_module("clamp", CLAMP, ["assert clamp(5, lo=0, hi=3) == 3"]))

    class NoLLM:
        name = "none"

        def complete(self, messages, **options):
            raise AssertionError("a stored module passes these tests: no LLM call")

    agent = Agent(Settings(store=library.location, llm="none"), llm=NoLLM(), library=library,
                  pm=builtin_pm)
    task = Task.from_asserts("Limit a number to a range given by lo and hi.",
                             ["assert clamp(7, lo=1, hi=4) == 4",
                              "assert clamp(-2, lo=0, hi=9) == 0"])
    result = agent.solve(task)
    assert (result.status, result.decision, result.llm_calls) == ("solved", "reused", 0)
    assert library.get("clamp").times_reused == 1
