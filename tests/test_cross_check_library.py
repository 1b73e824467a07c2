"""What the library keeps of the evidence: checks' warnings in the trace and on the module,
`try_reuse` preferring confirmed modules, `lib show`, the export (JSON and package) and
`lib check --reverify`, through the real CLI, sandbox and Chroma library.

LLMs are scripted (tests/test_cross_check.py's script, or a plugin written into a site
directory for the CLI): these tests are about the records, not about a model's answers.
"""

from __future__ import annotations

import json

import test_plugins_factory as factory
from test_cross_check import IS_PRIME, RIGHT_IS_PRIME, WRONG_IS_PRIME, Scripted, make_agent
from typer.testing import CliRunner

import agentlib.plugins as plugins
from agentlib.cli import app
from agentlib.code import docstring, module_id, signature
from agentlib.library.store import Library
from agentlib.model import Module
from agentlib.plugins import hookimpl
from agentlib.verify import Check


def module(name: str, source: str, tests: list[str], prompt: str, record: dict) -> Module:
    return Module(id=module_id(source), name=name, source=source,
                  signature=signature(source, name), docstring=docstring(source, name),
                  tests=tests, task_prompt=prompt, verification=record)


def confirmed(agreed: int = 33) -> dict:
    return {"tests_passed": 3, "agreed": agreed, "compared": agreed,
            "checks": ["special-cases", "independent"], "warnings": [], "status": "confirmed"}


UNCONFIRMED = {"tests_passed": 3, "agreed": 0, "compared": 0, "checks": ["special-cases"],
               "warnings": [], "status": "unconfirmed"}


class Unsure:
    """A validator that is unsure of every candidate: a warning, never a rejection."""

    @hookimpl
    def register_validators(self, register):
        register("unsure", lambda s, e, t: Check("", warnings=("slow on is_prime(10**9)",)))


class NoLoops:
    """A validator that rejects a `for` loop (with that as its evidence, for this test)."""

    @hookimpl
    def register_validators(self, register):
        register("no-loops", lambda s, e, t: "uses a for loop" if "\n    for " in s else None)


def test_checks_warnings_are_in_the_trace_and_on_the_module(tmp_path, library):
    llm = Scripted(generate=RIGHT_IS_PRIME, independent=RIGHT_IS_PRIME)
    result = make_agent(tmp_path, library, llm, plugins=[Unsure()]).solve(IS_PRIME)
    (validated,) = [s for s in result.trace if s.node == "validate"]
    assert validated.decision == "passed"
    assert "warnings: unsure: slow on is_prime(10**9)" in validated.detail
    record = library.get("is_prime").verification
    assert record["checks"] == ["special-cases", "unsure", "independent"]
    assert "slow on is_prime(10**9)" in record["warnings"]


def test_a_validator_rejection_is_typed_and_repaired(tmp_path, library):
    llm = Scripted(generate=[WRONG_IS_PRIME, RIGHT_IS_PRIME], independent=RIGHT_IS_PRIME)
    result = make_agent(tmp_path, library, llm, plugins=[NoLoops()],
                        cross_check="never").solve(IS_PRIME)
    assert [s.decision for s in result.trace if s.node == "validate"] == ["rejected", "passed"]
    assert "a validator rejected it: no-loops: uses a for loop" in llm.calls[1][1][-1]["content"]
    assert result.status == "solved" and "all(" in library.get("is_prime").source


def test_try_reuse_prefers_a_confirmed_module_over_a_nearer_unconfirmed_one(tmp_path, library):
    other = RIGHT_IS_PRIME.replace("is_prime", "prime_test")
    library.add(module("prime_test", other, ["assert prime_test(7)"], IS_PRIME.prompt,
                       UNCONFIRMED))
    library.add(module("check_prime", RIGHT_IS_PRIME.replace("is_prime", "check_prime")
                       .replace("all(", "not any(not "), ["assert check_prime(7)"],
                       "Check whether a number is prime.", confirmed()))
    llm = Scripted()
    result = make_agent(tmp_path, library, llm).solve(IS_PRIME)
    (retrieved,) = [s.detail for s in result.trace if s.node == "retrieve"]
    assert retrieved.index("prime_test") < retrieved.index("check_prime")  # nearer first
    assert (result.decision, result.modules_used, llm.calls) == ("reused", ["check_prime"], [])


def _cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250", **(env or {})})


def _caught_library(tmp_path, library) -> str:
    """A library holding the repaired is_prime (confirmed) and a weak, unrecorded `add`."""
    llm = Scripted(generate=WRONG_IS_PRIME, independent=RIGHT_IS_PRIME,
                   counterexample=RIGHT_IS_PRIME)
    make_agent(tmp_path, library, llm).solve(IS_PRIME)
    source = "def add(a, b):\n    return a + b\n"
    library.add(module("add", source, ["assert add(2, 3) == 5"], "Add two numbers.", {}))
    return library.location


def test_lib_show_says_how_a_module_was_verified(tmp_path, library):
    store = _caught_library(tmp_path, library)
    shown = _cli("lib", "show", "is_prime", "--library", store)
    assert shown.exit_code == 0, shown.output
    record = library.get("is_prime").verification
    assert (f"confirmed: 3 test(s) passed; agreed with an independent implementation on "
            f"{record['agreed']} of {record['compared']} generated input(s); checks: "
            "special-cases, independent") in " ".join(shown.stdout.split())
    old = _cli("lib", "show", "add", "--library", store)
    assert "not recorded" in old.stdout
    as_json = json.loads(_cli("lib", "show", "is_prime", "--library", store, "--json").stdout)
    assert as_json["verification"] == record


def test_the_export_keeps_the_verification_in_json_and_in_the_package(tmp_path, library,
                                                                      embedder):
    store = _caught_library(tmp_path, library)
    record = library.get("is_prime").verification
    out = tmp_path / "lib.jsonl"
    assert _cli("lib", "export", str(out), "--library", store).exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()[1:]]
    assert [r["verification"] for r in rows if r.get("name") == "is_prime"] == [record]
    other = tmp_path / "other"
    imported = _cli("lib", "import", str(out), "--library", str(other))
    assert imported.exit_code == 0, imported.output
    assert Library(str(other), embedder).get("is_prime").verification == record
    package = tmp_path / "pkg"
    assert _cli("lib", "export", "--as-package", str(package), "--library", store).exit_code == 0
    text = (package / "agentlib_modules" / "is_prime.py").read_text()
    assert "# VERIFICATION: confirmed: 3 test(s) passed; agreed with an independent" in text
    compile(text, "is_prime.py", "exec")
    assert "# VERIFICATION: not recorded" in (package / "agentlib_modules" / "add.py").read_text()


def test_reverify_records_tests_and_checks_and_keeps_an_earlier_agreement(tmp_path, library):
    store = _caught_library(tmp_path, library)
    before = library.get("is_prime").verification
    broken = "def sub(a, b):\n    return a + b\n"
    library.add(module("sub", broken, ["assert sub(3, 1) == 2"], "Subtract.", confirmed(12)))
    result = _cli("lib", "check", "--reverify", "--library", store,
                  env={"AGENTLIB_NO_PLUGINS": "1"})
    assert result.exit_code == 1, result.output  # sub's stored test fails
    text = " ".join(result.stdout.split())
    assert "no independent implementation asked" in text and "stored test fails" in text
    assert "1 confirmed, 2 unconfirmed, 1 failing; 0 LLM call(s)" in text
    add = library.get("add").verification
    assert (add["status"], add["checks"], add["tests_passed"]) == (
        "unconfirmed", ["special-cases"], 1)
    after = library.get("is_prime").verification  # agreement carried: no LLM was given
    assert (after["status"], after["agreed"], after["compared"]) == (
        "confirmed", before["agreed"], before["compared"])
    assert library.get("sub").verification["status"] == "unconfirmed"


WRITER = '''
    from agentlib.llm import Completion
    from agentlib.plugins import hookimpl

    RIGHT = {right!r}


    class Writer:
        name = "writer"

        def complete(self, messages, **options):
            return Completion(text="```python\\n" + RIGHT + "```")


    @hookimpl
    def register_llms(register):
        register("writer", lambda settings: Writer())
'''


def test_reverify_with_an_llm_compares_with_a_fresh_independent_implementation(
        tmp_path, library, monkeypatch):
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(plugins, "_WARNED", set())
    factory.make_plugin(site, "agentlib-writer", "writer", WRITER.format(right=RIGHT_IS_PRIME))
    library.add(module("is_prime", WRONG_IS_PRIME, [t.source for t in IS_PRIME.tests],
                       IS_PRIME.prompt, confirmed()))
    result = _cli("lib", "check", "--reverify", "--llm", "writer", "--library",
                  library.location, env={"AGENTLIB_PLUGINS": "writer"})
    assert result.exit_code == 0, result.output
    assert "0 confirmed, 1 unconfirmed, 0 failing; 1 LLM call(s)" in " ".join(
        result.stdout.split())
    record = library.get("is_prime").verification
    assert record["status"] == "unconfirmed" and 0 < record["agreed"] < record["compared"]
    assert any("disagrees with an independent implementation on is_prime(" in w
               for w in record["warnings"])
