"""`agentlib sandbox run | isolation | bench` through the real CLI app."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from agentlib.cli import app

runner = CliRunner()
GOOD = "def double(x):\n    return 2 * x\n"


@pytest.fixture
def code(tmp_path):
    path = tmp_path / "double.py"
    path.write_text(GOOD)
    return path


def test_run_passes_with_exit_0(code):
    result = runner.invoke(app, ["sandbox", "run", "--code", str(code),
                                 "--test", "assert double(2) == 4", "--test", ">>> double(3)\n6"])
    assert result.exit_code == 0, result.output
    assert "2/2 passed" in result.output


def test_run_fails_with_exit_1_and_json_verdict(code):
    result = runner.invoke(app, ["sandbox", "run", "--code", str(code), "--json",
                                 "--test", "assert double(2) == 4",
                                 "--test", "assert double(3) == 7"])
    assert result.exit_code == 1
    verdict = json.loads(result.stdout)
    assert verdict["passed"] is False
    assert [r["passed"] for r in verdict["results"]] == [True, False]
    assert verdict["results"][1]["error_type"] == "AssertionError"
    assert verdict["isolation"] and verdict["special_cases"] is None


def test_run_reads_a_tests_file_of_asserts_and_a_json_file_of_pairs(code, tmp_path):
    lines = tmp_path / "tests.txt"
    lines.write_text("# doubling\nassert double(1) == 2\n\nassert double(0) == 0\n")
    pairs = tmp_path / "tests.json"
    pairs.write_text(json.dumps([{"function": "double", "args": [5], "expected": 10},
                                 "assert double(-1) == -2"]))
    for tests in (lines, pairs):
        result = runner.invoke(app, ["sandbox", "run", "--code", str(code), "--json",
                                     "--tests-file", str(tests)])
        assert result.exit_code == 0, result.output
        assert len(json.loads(result.stdout)["results"]) == 2


def test_run_times_out_with_the_timeout_option(tmp_path):
    code = tmp_path / "slow.py"
    code.write_text("def f():\n    while True:\n        pass\n")
    result = runner.invoke(app, ["sandbox", "run", "--code", str(code), "--json",
                                 "--timeout", "0.5", "--test", "assert f() == 1"])
    assert result.exit_code == 1
    verdict = json.loads(result.stdout)
    assert verdict["ended"] == "timeout"
    assert 0.4 < verdict["results"][0]["wall_s"] < 5


def test_run_refuses_literal_special_casing(tmp_path):
    code = tmp_path / "cheat.py"
    code.write_text("def double(x):\n    if x == 21:\n        return 42\n    return 0\n")
    result = runner.invoke(app, ["sandbox", "run", "--code", str(code),
                                 "--test", "assert double(21) == 42"])
    assert result.exit_code == 1
    assert "not verified" in result.output


def test_run_without_tests_says_what_is_missing(code):
    result = runner.invoke(app, ["sandbox", "run", "--code", str(code)])
    assert result.exit_code == 1
    assert "no tests: give --test" in result.output


def test_run_allows_a_package_on_request(tmp_path):
    code = tmp_path / "lock.py"
    code.write_text("import filelock\n\ndef name():\n    return filelock.__name__\n")
    args = ["sandbox", "run", "--code", str(code), "--test", "assert name() == 'filelock'"]
    assert runner.invoke(app, args).exit_code == 1
    assert runner.invoke(app, args + ["--allow", "filelock"]).exit_code == 0


def test_isolation_command_names_the_mode_and_each_bound(monkeypatch):
    from agentlib.sandbox import detect_isolation

    monkeypatch.setenv("COLUMNS", "200")
    result = runner.invoke(app, ["sandbox", "isolation"])
    assert result.exit_code == 0
    assert result.output.split(":")[0] in ("bwrap", "unshare", "limits")
    bounds = detect_isolation().bounds
    assert {"run memory", "kill guarantee", "socket families"} <= {b.name for b in bounds}
    for bound in bounds:
        state = "in force" if bound.in_force else "not in force"
        assert f"  {bound.name}: {state} — {bound.how}" in result.output


def test_python_m_agentlib_sandbox_run_exit_codes(code):
    base = [sys.executable, "-m", "agentlib", "sandbox", "run", "--code", str(code)]
    ok = subprocess.run(base + ["--test", "assert double(4) == 8"], capture_output=True,
                        text=True, timeout=60)
    bad = subprocess.run(base + ["--test", "assert double(4) == 9"], capture_output=True,
                         text=True, timeout=60)
    assert (ok.returncode, bad.returncode) == (0, 1), ok.stderr + bad.stderr


def test_python_m_agentlib_reports_a_bad_test_file_on_stderr(code, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2")
    result = subprocess.run([sys.executable, "-m", "agentlib", "sandbox", "run", "--code",
                             str(code), "--tests-file", str(broken)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "not valid JSON" in " ".join(result.stderr.split())


def test_bench_command_prints_the_figures(monkeypatch):
    from agentlib.bench import sandbox as bench

    def fake(runs, echo):
        return {"isolation": "bwrap", "runs": runs, "cpus": 2, "python": "py",
                "bare_python_ms": 30.0, "validation_ms": 33.0, "ratio": 1.1,
                "validations_per_s_1_worker": 25.0, "validations_per_s_2_workers": 40.0}

    monkeypatch.setattr(bench, "sandbox_benchmark", fake)
    result = runner.invoke(app, ["sandbox", "bench", "--runs", "5"])
    assert result.exit_code == 0
    assert "ratio:" in result.output and "1.10x" in result.output


def test_the_benchmark_measures_for_real():
    from agentlib.bench.sandbox import sandbox_benchmark

    figures = sandbox_benchmark(runs=3, echo=False)
    assert figures["bare_python_ms"] > 0 and figures["validation_ms"] > 0
    assert figures["ratio"] == pytest.approx(figures["validation_ms"] / figures["bare_python_ms"])
    assert figures["validations_per_s_2_workers"] > 0
