"""The Check result and the validator hook contract: None, a reason or a Check with warnings.

The validators here are registered on a real plugin manager through the real hook; they
only return fixed results, because the test is about the contract, not about a check."""

from __future__ import annotations

import pytest

from agentlib.model import TestCase as Case
from agentlib.plugins import (
    PluginWarning,
    checks,
    hookimpl,
    make_plugin_manager,
    run_checks,
    run_validators,
    validators,
)
from agentlib.verify import Check, as_check
from agentlib.verify.checks import candidate_checks


class Plugin:
    """Validators answering in each allowed form, and one that breaks the contract."""

    @hookimpl
    def register_validators(self, register):
        register("silent", lambda s, e, t: None)
        register("reason", lambda s, e, t: "calls eval()" if "eval(" in s else None)
        register("warns", lambda s, e, t: Check("", warnings=("slow on f(10**6)",)))
        register("typed", lambda s, e, t: Check("typed", reject="hard-coded", warnings=("x",)))


class Broken:
    @hookimpl
    def register_validators(self, register):
        register("numeric", lambda s, e, t: 42)


def manager(*plugins):
    pm = make_plugin_manager(load_entry_points=False)
    for number, plugin in enumerate(plugins):
        pm.register(plugin, name=f"test-plugin-{number}")
    return pm


def test_as_check_normalises_every_allowed_result():
    assert as_check("v", None) == Check("v")
    assert as_check("v", "") == Check("v") and as_check("v", "bad") == Check("v", reject="bad")
    assert as_check("v", Check("", warnings=("w",))) == Check("v", warnings=("w",))
    with pytest.raises(TypeError):
        as_check("v", 42)


def test_checks_keep_warnings_and_run_validators_keeps_only_rejections():
    pm = manager(Plugin())
    found = {c.name: c for c in run_checks(pm, "def f(x):\n    return eval(x)\n", "f", [])}
    assert found["silent"] == Check("silent")
    assert found["reason"].reject == "calls eval()"
    assert found["warns"] == Check("warns", warnings=("slow on f(10**6)",))
    assert found["typed"].rejected and found["typed"].warnings == ("x",)
    assert run_validators(pm, "def f(x):\n    return x\n", "f", []) == ["typed: hard-coded"]
    assert validators(pm)["warns"]("def f():\n    pass\n", "f", []) is None


def test_a_validator_returning_something_else_marks_its_plugin_failed_and_accepts():
    pm = manager(Broken())
    with pytest.warns(PluginWarning, match="validator 'numeric' returned int"):
        assert checks(pm)["numeric"]("def f():\n    pass\n", "f", []) == Check("numeric")
    assert pm.records["test-plugin-0"].status == "failed"


def test_candidate_checks_run_the_static_check_then_the_plugins():
    pm = manager(Plugin())
    tests = [Case("assert square(3) == 9"), Case("assert square(12) == 144")]
    found = candidate_checks("def square(x):\n    return {3: 9, 12: 144}[x]\n",
                             "def square(x):\n    return {3: 9, 12: 144}[x]\n", "square", tests,
                             lambda p, e, t: run_checks(pm, p, e, t))
    assert [c.name for c in found] == ["special-cases", "silent", "reason", "warns", "typed"]
    assert found[0].rejected and "square" in found[0].reject
    assert candidate_checks("def square(x):\n    return x * x\n", "", "square", tests) == \
        [Check("special-cases")]
