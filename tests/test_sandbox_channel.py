"""The trusted side's checks, tested directly: the channel's schema and decoder, the harness's
verdict reader, the table of failure kinds, which names a test's program may not rebind, and
the run cgroups (real ones, where this host lets agentlib make them).

Nothing untrusted runs here: the inputs are hand-made frames and sources, parsed, never run.
"""

from __future__ import annotations

import json
import os
import resource
import time

import pytest

from agentlib.model import TestCase as Case
from agentlib.sandbox import cgroup, channel, kinds, run
from agentlib.sandbox.names import shadowing, top_level_bindings
from agentlib.sandbox.prepare import prepare
from agentlib.sandbox.verdict import clean, results_from

# ------------------------------------------------------------------ values


def test_encoded_values_decode_to_equal_values_of_the_same_types():
    values = [None, True, 3, -2 ** 80, 1.5, float("inf"), 2j, "é", b"\x00\xff", [1, (2, 3)],
              {1, 2}, frozenset({"a"}), {"k": [None]}, range(2, 10, 3)]
    for value in values:
        decoded = channel.decode(json.loads(json.dumps(channel.encode(value))))
        assert decoded == value and type(decoded) is type(value)


@pytest.mark.parametrize("data, why", [
    (["range", 0, 10 ** 12, 1], "a range of"),
    (["int", "1" * 5000], "does not decode"),
    (["set", [["int", str(i * (2 ** 61 - 1))] for i in range(1, 100)]], "same hash"),
    (["dict", [[["list", []], ["none"]]]], "does not decode"),  # an unhashable key
    (["list"], "malformed tag"),
    (["str", 5], "malformed tag"),
    ("int", "not a tagged value"),
    (["bool", 1], "malformed tag"),
])
def test_values_outside_the_schema_are_refused(data, why):
    with pytest.raises(channel.BadMessage, match=why):
        channel.decode(data)


def test_deep_nesting_is_refused_by_the_decoder_and_the_json_scanner():
    deep = ["none"]
    for _ in range(channel.MAX_DEPTH + 2):
        deep = ["list", [deep]]
    with pytest.raises(channel.BadMessage, match="nested deeper"):
        channel.decode(deep)
    with pytest.raises(ValueError, match="nested too deeply"):
        channel.json_loads("[" * 100_000 + "]" * 100_000)


def test_a_hash_flood_is_refused_in_linear_time():
    flood = ["set", [["int", str(i * (2 ** 61 - 1))] for i in range(1, 200_000)]]
    start = time.perf_counter()
    with pytest.raises(channel.BadMessage):
        channel.decode(flood)
    assert time.perf_counter() - start < 1.0


# ------------------------------------------------------------------ results


@pytest.mark.parametrize("message", [
    {"values": [["int", "1"]]}, {"ran": True},
    {"error": "ValueError", "message": "m"},
    {"error": "ValueError", "message": "m", "traceback": "t"},
])
def test_results_that_fit_the_schema_pass_unchanged(message):
    assert channel.check_result(message, 1) == message


@pytest.mark.parametrize("message", [
    [], {"values": [["int", "1"]], "cpu_s": 0}, {"values": []}, {"ran": 1},
    {"error": ["x"], "message": "m"}, {"error": "not a name", "message": "m"},
    {"error": "ValueError", "message": 5}, {"error": "ValueError", "message": "m" * 10_000},
    {"error": "Timeout", "message": "claims a sandbox kind"},
])
def test_results_outside_the_schema_are_refused(message):
    with pytest.raises(channel.BadMessage):
        channel.check_result(message, 1)


def test_a_frame_announcing_too_many_bytes_is_never_read():
    read, write = os.pipe()
    try:
        os.write(write, (channel.MAX_MESSAGE + 1).to_bytes(4, "big") + b"{}")
        assert channel.read_frame(read, time.monotonic() + 5) == ("too-large",
                                                                   channel.MAX_MESSAGE + 1)
    finally:
        os.close(read)
        os.close(write)


def test_frames_are_read_from_descriptors_above_select_s_limit():
    # A long-lived process holding many stores has descriptors above 1023; select() refuses those.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2100:
        pytest.skip("this machine allows fewer than 2100 open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2100), hard))
    read, write = os.pipe()
    high = os.dup2(read, 2048)
    try:
        channel.write_all(write, (2).to_bytes(4, "big") + b"{}")
        assert channel.read_frame(high, time.monotonic() + 5) == ("ok", b"{}")
        channel.write_all(write, b"abc")
        assert channel.read_exact(high, 3, time.monotonic() + 5) == b"abc"
    finally:
        for fd in (read, write, high):
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# ------------------------------------------------------------------ the harness's verdict


def test_a_malformed_verdict_result_fails_only_that_test():
    good = {"passed": True, "error_type": None, "message": "", "stdout": "", "stderr": "",
            "wall_s": 0.1, "cpu_s": 0.1, "peak_memory_mb": 5.0}
    bad = dict(good, error_type=["x"])
    results = results_from(json.dumps({"results": [good, bad]}).encode(), ["t1", "t2"])
    assert [(r.test, r.passed, r.error_type) for r in results] == [
        ("t1", True, None), ("t2", False, "IsolationError")]
    assert results[1].message.startswith("isolation-error: ")
    assert isinstance(results_from(b"[" * 100_000, ["t"]), str)
    assert isinstance(results_from(json.dumps({"results": [good]}).encode(), ["a", "b"]), str)


def test_strings_reaching_a_verdict_are_encodable():
    assert clean("a\ud800b", 100).encode("utf-8") == b"a\\ud800b"
    assert clean("x" * 50, 10) == "x" * 10


def test_the_run_ends_the_way_its_worst_failure_says():
    assert kinds.ended(["AssertionError", None]) == "ok"
    assert kinds.ended(["MemoryError", "Timeout"]) == "timeout"
    assert kinds.ended(["BadResult", "InodeLimitExceeded"]) == "memory"
    assert {"Timeout", "IsolationError", "BadResult"} <= kinds.SANDBOX_KINDS
    assert "ValueError" not in kinds.SANDBOX_KINDS


# ------------------------------------------------------------------ names a program may bind


def _refusal(program: str, test: str, setup: str = "") -> str:
    cases, error = prepare(program, [Case(test, setup)])
    assert error is None
    return cases[0].refused


@pytest.mark.parametrize("program, test", [
    ("import math\ndef f(x):\n    return x / 2\n", "assert math.isclose(f(1), 0.5)"),
    ("from math import sqrt\ndef f(x):\n    return sqrt(x)\n", "assert f(4) == 2"),
    ("def copy(x):\n    return list(x)\n", "assert copy((1,)) == [1]"),
    ("def max_of(x):\n    return max(x)\n\nlen = 3\n", "assert max_of([1, 2]) == 2"),
    ("import numpy as np\ndef f():\n    return 1\n", "assert f() == np.int64(1)"),
])
def test_ordinary_programs_are_not_refused(program, test):
    setup = "import numpy as np" if "np." in test else ""
    assert _refusal(program, test, setup) == ""


@pytest.mark.parametrize("program, test, name", [
    ("def sorted(x):\n    return x\n", "assert sorted([2, 1]) == [1, 2]", "sorted"),
    ("import cmath as math\ndef f(x):\n    return x\n", "assert math.isclose(f(1), 1)", "math"),
    ("from os import getcwd as set\ndef f(x):\n    return x\n", "assert set(f([1])) == {1}",
     "set"),
    ("def f(x):\n    global abs\n    abs = len\n    return x\n", "assert abs(f(-1)) == 1", "abs"),
    ("data = [9]\ndef f(x):\n    return x\n", "assert f(data) == [1]", "data"),
])
def test_a_rebinding_the_test_would_meet_is_refused_with_its_line(program, test, name):
    setup = "data = [1]" if "data" in test else ""
    reason = _refusal(program, test, setup)
    assert f"binds {name!r} at top level (line" in reason and "rename it" in reason


def test_every_top_level_binding_form_is_found():
    source = ("import a.b\nfrom c import d as e\ndef f(): pass\nclass G: pass\nh = i = 1\n"
              "for j in []: pass\nwith k() as l: pass\ntry: pass\nexcept E as m: pass\n"
              "(n := 1)\n[o := 1 for p in []]\ndef q():\n    global r\n")
    found = {b.name: b.how for b in top_level_bindings(source)}
    assert found == {"a": "import", "e": "import", "f": "def", "G": "class",
                     "h": "assignment", "i": "assignment", "j": "for target",
                     "l": "with target", "m": "except target", "n": "walrus", "o": "walrus",
                     "q": "def", "r": "global"}
    assert "p" not in found  # a comprehension's own variable stays inside it
    assert shadowing(top_level_bindings("x = 1\n"), {"x"}, [], set()) is None


# ------------------------------------------------------------------ run cgroups


def _empty(paths: set[str]) -> list[str]:
    found = []
    for path in paths:
        try:
            with open(os.path.join(path, "cgroup.procs")) as fh:
                if not fh.read().strip():
                    found.append(path)
        except FileNotFoundError:  # removed meanwhile
            pass
    return found


def test_runs_leave_no_cgroup_behind():
    host = cgroup.cgroup_host()
    if not host.version:
        pytest.skip(f"no run cgroup on this host: {host.reason}")
    verdict = run("def f():\n    return 1\n", [Case("assert f() == 1")])
    assert verdict.passed
    # a spare waiting for its run holds processes; one being started is empty for a moment;
    # a leftover stays empty
    deadline = time.monotonic() + 10
    while True:
        cgroup.remove_pending()
        empty = _empty(cgroup.made_here())
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert empty == []
