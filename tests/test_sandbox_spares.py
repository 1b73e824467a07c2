"""Spare sandboxes started ahead of their job: each serves one run, and only one."""

from __future__ import annotations

import os
import signal
import time

from agentlib.model import TestCase as Case
from agentlib.sandbox import Limits, run, runner

FAST = Limits(timeout_s=2, processes=8)
MARK = "def mark():\n    open('/tmp/left-behind', 'w').write('x')\n    return 1\n"
LOOK = "import os\n\ndef look():\n    return sorted(os.listdir('/tmp')), sorted(os.listdir('.'))\n"


def _wait_for_spare(timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not runner.SPARES._idle and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_run_never_sees_what_the_previous_run_left():
    assert run(MARK, [Case("assert mark() == 1")], FAST).passed
    _wait_for_spare()
    verdict = run(LOOK, [Case("assert look() == ([], ['.outputs'])")], FAST)
    assert verdict.passed, verdict.results[0].message


def test_a_spare_that_died_while_waiting_is_replaced():
    assert run(MARK, [Case("assert mark() == 1")], FAST).passed
    _wait_for_spare()
    for _, started in list(runner.SPARES._idle):
        os.killpg(started.proc.pid, signal.SIGKILL)
        started.proc.wait()
    verdict = run(LOOK, [Case("assert look() == ([], ['.outputs'])")], FAST)
    assert verdict.passed, verdict.results[0].message


def test_spares_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("AGENTLIB_SANDBOX_SPARES", "0")
    runner.SPARES.close()
    assert run(MARK, [Case("assert mark() == 1")], FAST).passed
    time.sleep(0.2)
    assert runner.SPARES._idle == []
