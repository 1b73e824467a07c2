"""The error policy, row by row of issue #23's table, through the real CLI (typer's runner or a
subprocess): the exit code, stderr exactly one `error:` line, and the library directory (here:
every file under the test's directory) unchanged. Replay backend; real store and sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import scenarios
from conftest import RECORDINGS
from typer.testing import CliRunner

from agentlib.cli import app


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working directory with its own store and home, relative paths resolved inside it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AGENTLIB_LLM", "replay")
    monkeypatch.setenv("AGENTLIB_RECORDINGS", str(RECORDINGS / "agent.json"))
    monkeypatch.setenv("AGENTLIB_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("AGENTLIB_NO_PLUGINS", "1")
    return tmp_path


def files_under(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory below `root` (the agentlib home aside), with size and mtime."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if "home" not in p.relative_to(root).parts}


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def assert_one_error(result_or_done, code: int, *needles: str) -> str:
    """Exit `code`, and stderr exactly one `error:` line holding every needle."""
    exit_code = getattr(result_or_done, "exit_code", getattr(result_or_done, "returncode", None))
    stderr = result_or_done.stderr
    assert exit_code == code, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in stderr
    return lines[0]


def _task_file(path: Path, tasks) -> Path:
    path.write_text("".join(json.dumps({"id": t.id, "prompt": t.prompt,
                                        "tests": [x.source for x in t.tests]}) + "\n"
                            for t in tasks))
    return path


def test_a_chroma_server_that_does_not_answer_fails_fast_with_one_line(work):
    before = files_under(work)
    start = time.monotonic()
    result = cli("lib", "list", "--library", "http://127.0.0.1:9")
    # a refused connection is retried server_retries (3) times, 1 + 2 + 4 s apart, then ends
    assert time.monotonic() - start < 25
    assert_one_error(result, 1, "http://127.0.0.1:9", "did not answer", "chroma run")
    assert files_under(work) == before


def test_out_in_a_missing_directory_is_one_line_before_anything_runs(work):
    tasks = _task_file(work / "t.jsonl", [scenarios.ADD])
    before = files_under(work)
    result = cli("solve", "--file", str(tasks), "--out", str(work / "missing_dir" / "o.jsonl"))
    assert_one_error(result, 1, "missing_dir", "No such file or directory")
    assert files_under(work) == before


def test_an_unknown_bench_configuration_is_bad_usage(work):
    tasks = _task_file(work / "t.jsonl", [scenarios.ADD])
    before = files_under(work)
    result = cli("bench", "tasks", str(tasks), "--configs", "agent,foo")
    assert_one_error(result, 2, "foo", "agent, no-library, no-repair")
    assert files_under(work) == before


READ_ONLY = [("lib", "list"), ("lib", "show", "add"), ("lib", "search", "sum"), ("lib", "stats"),
             ("lib", "check"), ("lib", "history", "add"), ("insights", "list")]


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_commands_never_create_a_library(work, command):
    before = files_under(work)
    assert_one_error(cli(*command, "--library", "./typo"), 1, "typo", "does not exist")
    assert_one_error(cli(*command, "--library", "ftp://x"), 2, "ftp://x", "http://")
    assert files_under(work) == before  # no ./typo, no ./ftp:/x/chroma.sqlite3


def test_doctor_on_a_missing_library_says_so_and_creates_nothing(work):
    before = files_under(work)
    result = cli("doctor", "--library", "./typo", "--json")
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert result.exit_code == 1
    assert checks["library"]["status"] == "FAIL"
    assert "typo does not exist" in checks["library"]["detail"]
    assert files_under(work) == before


def test_a_library_location_that_is_a_file_says_so(work):
    (work / "afile").write_text("not a library\n")
    before = files_under(work)
    assert_one_error(cli("lib", "list", "--library", "afile"), 1,
                     "afile is a file, not a library directory")
    result = cli("doctor", "--library", "afile", "--json")
    library = {c["name"]: c for c in json.loads(result.stdout)}["library"]
    assert result.exit_code == 1 and library["status"] == "FAIL"
    assert "is a file, not a library directory" in library["detail"]
    assert "Errno" not in result.output
    assert files_under(work) == before


def _agentlib(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    import os

    full = {k: v for k, v in os.environ.items() if not k.startswith("AGENTLIB_")}
    full.update(AGENTLIB_HOME=str(cwd / "home"), AGENTLIB_STORE=str(cwd / "store"),
                AGENTLIB_NO_PLUGINS="1", AGENTLIB_CROSS_CHECK="never", **env)
    return subprocess.run([sys.executable, "-m", "agentlib", *args], capture_output=True,
                          text=True, env=full, cwd=cwd, timeout=120)


def test_a_bad_model_or_backend_fails_before_anything_loads(work):
    (work / "fake.gguf").write_bytes(b"not a model at all")
    before = files_under(work)
    task = ["solve", scenarios.ADD.prompt, "--test", scenarios.ADD.tests[0].source]
    for args, code, needles in [
            (["--llm", "local", "--model", "/nonexistent.gguf"], 1,
             ("/nonexistent.gguf does not exist", "default, small")),
            (["--llm", "local", "--model", "fake.gguf"], 1, ("not a GGUF file", "default, small")),
            (["--llm", "foo"], 2, ("unknown LLM backend 'foo'", "local, openai, replay"))]:
        start = time.monotonic()
        done = _agentlib(*task, *args, cwd=work)
        elapsed = time.monotonic() - start
        assert_one_error(done, code, *needles)
        assert elapsed < 8, f"{args}: {elapsed:.1f} s (a process start, not a model load)"
    assert files_under(work) == before


def test_usage_errors_exit_2(work):
    (work / "results.jsonl").write_text("")
    tasks = _task_file(work / "t.jsonl", [scenarios.ADD])
    before = files_under(work)
    add = ["--test", scenarios.ADD.tests[0].source]
    assert_one_error(cli("solve", "add two numbers", "--test", "assert add(1, 2) =="), 2,
                     "not valid Python")
    assert_one_error(cli("solve", "", *add), 2, "PROMPT")
    assert_one_error(cli("solve", "  ", *add), 2, "PROMPT")
    assert_one_error(cli("solve", "x", *add, "--llm", "foo"), 2, "unknown LLM backend 'foo'")
    assert_one_error(cli("solve", "--file", str(tasks), "--out", str(work / "results.jsonl")), 2,
                     "already exists", "--resume", "--overwrite")
    assert_one_error(cli("solve", "--file", str(tasks), "--out", "-", "--resume"), 2,
                     "--out -", "cannot be resumed")
    assert_one_error(cli("lib", "list", "--bogus"), 2, "No such option: --bogus")
    assert files_under(work) == before


def test_contradictory_tests_or_tests_that_call_nothing_are_refused_before_the_llm(work):
    (work / "none.json").write_text("{}")  # no recorded completion: any LLM call would fail
    before = files_under(work)
    result = cli("solve", "Square a number.", "--test", "assert sq(2) == 4", "--test",
                 "assert sq(2) == 5", "--test", "assert sq(3) == 9",
                 "--llm", "replay", "--library", str(work / "store"))
    line = assert_one_error(result, 2, "assert sq(2) == 4", "assert sq(2) == 5", "sq(2)")
    assert "recorded" not in line
    result = cli("solve", "Return one.", "--test", "assert 1 == 1", "--entry-point", "one")
    assert_one_error(result, 2, "calls no function")
    assert files_under(work) == before


def test_a_failed_task_puts_its_error_line_on_stderr(work):
    result = cli("solve", scenarios.MISLEADING.prompt,
                 *[a for t in scenarios.MISLEADING.tests for a in ("--test", t.source)],
                 "--attempts", "1")
    assert_one_error(result, 1, "combine(")
    assert "failed" in result.stdout and "error:" not in result.stdout


def test_export_as_a_package_into_a_non_empty_directory_needs_overwrite(work, library):
    from record_refactor import build_date_library

    build_date_library(library)
    package = work / "pkg"
    first = cli("lib", "export", "--as-package", str(package), "--package", "dates_a")
    assert first.exit_code == 0, first.output
    before = files_under(work)
    again = cli("lib", "export", "--as-package", str(package), "--package", "dates_b")
    assert_one_error(again, 2, "is not empty", "--overwrite")
    assert files_under(work) == before  # nothing mixed in
    replaced = cli("lib", "export", "--as-package", str(package), "--package", "dates_b",
                   "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert sorted(p.name for p in package.iterdir()) == ["dates_b", "pyproject.toml", "tests"]
    (work / "notes").mkdir()
    (work / "notes" / "todo.txt").write_text("mine\n")
    assert_one_error(cli("lib", "export", "--as-package", str(work / "notes"), "--overwrite"),
                     2, "holds no previous export")
    assert (work / "notes" / "todo.txt").read_text() == "mine\n"


def test_config_show_piped_never_splits_a_setting_name(work):
    from agentlib.config import SETTINGS

    done = _agentlib("config", "show", cwd=work, COLUMNS="40")
    assert done.returncode == 0, done.stderr
    starts = {line.split(" = ")[0] for line in done.stdout.splitlines()[1:]}
    assert starts == set(SETTINGS)
    assert all(len(line.split(" = ")) >= 2 for line in done.stdout.splitlines()[1:])


def test_debug_shows_the_traceback_that_the_error_line_replaces(work):
    plain = _agentlib("lib", "list", "--library", "ftp://x", cwd=work)
    assert_one_error(plain, 2, "ftp://x")
    debug = _agentlib("--debug", "lib", "list", "--library", "ftp://x", cwd=work)
    assert "Traceback (most recent call last)" in debug.stderr and "UsageError" in debug.stderr
