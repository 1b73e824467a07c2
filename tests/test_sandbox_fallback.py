"""Weaker isolation when bubblewrap is missing, and the allow-list of importable packages."""

from __future__ import annotations

import shutil

import pytest

from agentlib.errors import SandboxError
from agentlib.model import TestCase as Case
from agentlib.sandbox import Isolation, Limits, SandboxWarning, detect_isolation, run, runner

FAST = Limits(timeout_s=1.5, cpu_s=3, memory_mb=256, processes=8)
PROGRAM = """
def f(x):
    if x == 0:
        while True:
            pass
    return x + 1
"""
TESTS = [Case("assert f(1) == 2"), Case("assert f(2) == 4"), Case("assert f(0) == 1")]


@pytest.fixture
def no_bwrap(monkeypatch):
    """Pretend bubblewrap is not installed, for detect_isolation."""
    which = shutil.which
    monkeypatch.setattr(runner.shutil, "which", lambda name: None if name == "bwrap" else which(name))
    detect_isolation.cache_clear()
    yield
    detect_isolation.cache_clear()


@pytest.mark.parametrize("mode", ["unshare", "limits"])
def test_fallback_modes_still_judge_and_time_out(mode):
    with pytest.warns(SandboxWarning, match=f"isolation is {mode}, not bubblewrap: forced"):
        verdict = run(PROGRAM, TESTS, FAST, Isolation(mode, "forced by the test"))
    assert verdict.isolation == mode
    assert [r.error_type for r in verdict.results] == [None, "AssertionError", "Timeout"]
    assert verdict.ended == "timeout"
    assert verdict.detail.startswith(f"WARNING: weaker isolation ({mode}): forced by the test")


def test_the_limits_fallback_leaves_no_working_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(runner.tempfile, "tempdir", str(tmp_path))
    with pytest.warns(SandboxWarning):
        verdict = run("def f():\n    open('made-here', 'w').write('x')\n    return 1\n",
                      [Case("assert f() == 1")], FAST, Isolation("limits", "forced"))
    assert verdict.passed
    assert list(tmp_path.iterdir()) == []


def test_without_bwrap_the_reason_says_so(no_bwrap):
    isolation = detect_isolation()
    assert isolation.mode in ("unshare", "limits")
    assert isolation.reason.startswith("bwrap not found (install the 'bubblewrap' package)")
    assert "host filesystem" in isolation.reason


def test_an_unknown_isolation_mode_is_our_error():
    with pytest.raises(SandboxError, match="unknown isolation mode"):
        run(PROGRAM, TESTS, FAST, Isolation("chroot", "no such mode"))


def test_no_tests_is_our_error():
    with pytest.raises(SandboxError, match="no tests"):
        run(PROGRAM, [], FAST)


# ------------------------------------------------------------------ importable packages

IMPORTS = "import filelock\n\ndef f():\n    return filelock.__name__\n"


def test_site_packages_are_not_importable_by_default():
    verdict = run(IMPORTS, [Case("assert f() == 'filelock'")], FAST)
    assert verdict.results[0].error_type == "ModuleNotFoundError"


def test_an_allowed_package_is_importable():
    verdict = run(IMPORTS, [Case("assert f() == 'filelock'")],
                  Limits(timeout_s=5, allow_packages=("filelock",)))
    assert verdict.passed, verdict.results[0].message


def test_an_allowed_package_is_read_only():
    program = ("import filelock, os\n\ndef f():\n"
               "    open(os.path.join(os.path.dirname(filelock.__file__), 'x.py'), 'w')\n")
    verdict = run(program, [Case("assert f() is None")],
                  Limits(timeout_s=5, allow_packages=("filelock",)))
    assert verdict.results[0].error_type in ("OSError", "PermissionError")
    assert "Read-only file system" in verdict.results[0].message


def test_an_allowed_package_works_in_the_limits_fallback():
    with pytest.warns(SandboxWarning):
        verdict = run(IMPORTS, [Case("assert f() == 'filelock'")],
                      Limits(timeout_s=5, allow_packages=("filelock",)),
                      Isolation("limits", "forced"))
    assert verdict.passed, verdict.results[0].message


def test_an_unknown_allowed_package_is_our_error():
    with pytest.raises(SandboxError, match="'no_such_pkg_xyz' is not installed"):
        run(IMPORTS, [Case("assert f() == 1")], Limits(allow_packages=("no_such_pkg_xyz",)))
    with pytest.raises(SandboxError, match="not a top-level package name"):
        run(IMPORTS, [Case("assert f() == 1")], Limits(allow_packages=("os.path",)))
