"""Settings from config.toml and the environment, `agentlib config show`, and how errors look."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentlib.cli import app
from agentlib.config import ConfigError, Settings, agentlib_home

runner = CliRunner()
AGENTLIB = str(Path(sys.executable).with_name("agentlib"))


def _write_config(text: str) -> Path:
    path = agentlib_home() / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _shown(*args: str) -> dict[str, dict]:
    result = runner.invoke(app, ["config", "show", "--json", *args])
    assert result.exit_code == 0, result.output
    return {row["setting"]: row for row in json.loads(result.stdout)["settings"]}


def test_option_beats_environment_beats_file_beats_default(monkeypatch):
    _write_config('model = "small"\nllm = "replay"\nattempts = 2\ntest_timeout_s = 9\n')
    monkeypatch.setenv("AGENTLIB_LLM", "openai")
    rows = _shown("--library", "/srv/lib")
    assert (rows["store"]["value"], rows["store"]["source"]) == ("/srv/lib", "option --library")
    assert (rows["llm"]["value"], rows["llm"]["source"]) == ("openai", "environment")
    assert (rows["model"]["value"], rows["model"]["source"]) == ("small", "config file")
    assert (rows["embedder"]["value"], rows["embedder"]["source"]) == ("minilm", "default")
    assert rows["llm"]["env"] == "AGENTLIB_LLM" and rows["llm"]["help"]
    settings = Settings()
    assert (settings.llm, settings.model, settings.attempts) == ("openai", "small", 2)
    assert settings.test_timeout_s == 9.0 and isinstance(settings.test_timeout_s, float)


def test_explicit_arguments_and_env_names_still_work(monkeypatch):
    monkeypatch.setenv("AGENTLIB_STORE", "/data/lib")
    monkeypatch.setenv("AGENTLIB_USE_LIBRARY", "false")
    monkeypatch.setenv("AGENTLIB_ATTEMPTS", "5")
    settings = Settings(model="x.gguf")
    assert (settings.store, settings.model, settings.use_library, settings.attempts) == \
        ("/data/lib", "x.gguf", False, 5)


def test_config_file_in_another_place(tmp_path, monkeypatch):
    other = tmp_path / "team.toml"
    other.write_text('store = "http://127.0.0.1:8000"\n')
    monkeypatch.setenv("AGENTLIB_CONFIG", str(other))
    assert Settings().store == "http://127.0.0.1:8000"
    result = runner.invoke(app, ["config", "show"])
    assert str(other) in result.stdout.replace("\n", "") and "found" in result.stdout


@pytest.mark.parametrize("text, message", [
    ("modle = 'small'\n", "unknown setting(s) modle"),
    ("attempts = 'three'\n", "setting 'attempts' must be a whole number, got 'three'"),
    ("use_library = 1\n", "setting 'use_library' must be true or false"),
    ("model = \n", "not valid TOML"),
])
def test_bad_config_file_says_where_and_what(text, message):
    path = _write_config(text)
    with pytest.raises(ConfigError) as caught:
        Settings()
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_bad_environment_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("AGENTLIB_TOP_K", "five")
    with pytest.raises(ConfigError, match="AGENTLIB_TOP_K must be a whole number"):
        Settings()


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, **env}
    return subprocess.run([AGENTLIB, *args], capture_output=True, text=True, env=full,
                          timeout=120)


def test_errors_are_one_message_exit_1_and_debug_shows_the_traceback():
    path = _write_config("attempts = 'three'\n")
    plain = _run("lib", "list")
    assert plain.returncode == 1
    assert plain.stderr.startswith("error: ") and str(path) in plain.stderr.replace("\n", "")
    assert "Traceback" not in plain.stderr and plain.stdout == ""
    debug = _run("--debug", "lib", "list")
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr and "ConfigError" in debug.stderr


def test_os_errors_are_user_errors_and_usage_errors_exit_2(tmp_path):
    done = _run("lib", "export", "/etc/passwd/out.jsonl", AGENTLIB_STORE=str(tmp_path / "s"))
    assert done.returncode == 1
    assert "error:" in done.stderr and "Not a directory" in done.stderr
    assert "Traceback" not in done.stderr
    usage = _run("doctor", "--bogus")
    assert usage.returncode == 2 and "No such option" in usage.stderr
