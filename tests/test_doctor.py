"""`agentlib doctor`: one line per check, OK / WARN / FAIL with the fix; exit 1 on a FAIL."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from agentlib.cli import app
from agentlib.config import agentlib_home
from agentlib.llm.provision import MODELS

runner = CliRunner()


def _doctor(*args: str):
    result = runner.invoke(app, ["doctor", *args])
    return result, {c["name"]: c for c in json.loads(result.stdout)} if "--json" in args else {}


def _install_small_model(small_model):
    """Give this test's home the real, verified small model (linked, with its hash record)."""
    models = agentlib_home() / "models"
    models.mkdir(parents=True)
    (models / small_model.name).symlink_to(small_model)
    marker = small_model.with_name(small_model.name + ".verified")
    shutil.copy(marker, models / marker.name)


def test_healthy_setup_has_no_failure_and_exits_0(tmp_path, small_model, library):
    _install_small_model(small_model)  # `library`: an empty library at tmp_path / "store"
    result, checks = _doctor("--llm", "local", "--model", "small",
                             "--library", str(tmp_path / "store"), "--json")
    assert result.exit_code == 0, result.output
    assert {c["status"] for c in checks.values()} <= {"OK", "WARN"}
    assert checks["model small (configured)"]["status"] == "OK"
    assert MODELS["small"].sha256[:12] in checks["model small (configured)"]["detail"]
    assert checks["model default"]["status"] == "WARN"  # not fetched, but not configured
    assert checks["model default"]["fix"] == "agentlib models fetch default"
    for name in ("python", "packages", "config", "plugins", "LLM backend local", "sandbox",
                 "library"):
        assert name in checks
    assert "0 module record(s), 0 insight(s), sound" in checks["library"]["detail"]
    human = runner.invoke(app, ["doctor", "--llm", "local", "--model", "small",
                                "--library", str(tmp_path / "store")])
    assert human.exit_code == 0
    assert "OK   model small (configured)" in human.stdout and "0 failure(s)" in human.stdout


def test_missing_model_file_fails_with_the_fix(tmp_path):
    result, checks = _doctor("--llm", "local", "--model", "small",
                             "--library", str(tmp_path / "store"), "--json")
    assert result.exit_code == 1
    check = checks["model small (configured)"]
    assert check["status"] == "FAIL" and "missing" in check["detail"]
    assert check["fix"] == "agentlib models fetch small"
    human = runner.invoke(app, ["doctor", "--llm", "local", "--model", "small",
                                "--library", str(tmp_path / "store")])
    assert human.exit_code == 1
    assert "FAIL model small (configured)" in human.stdout
    assert "fix: agentlib models fetch small" in human.stdout


def test_a_model_file_that_changed_since_it_was_verified_fails(tmp_path, small_model):
    models = agentlib_home() / "models"
    models.mkdir(parents=True)
    (models / small_model.name).write_bytes(b"GGUF" + b"\0" * 1024)  # not the verified file
    marker = small_model.with_name(small_model.name + ".verified")
    shutil.copy(marker, models / marker.name)
    result, checks = _doctor("--llm", "local", "--model", "small", "--json")
    assert result.exit_code == 1
    check = checks["model small (configured)"]
    assert check["status"] == "FAIL" and "never verified or the file changed" in check["detail"]


def test_unknown_backend_and_bad_config_file_fail(tmp_path):
    agentlib_home().mkdir(parents=True)
    (agentlib_home() / "config.toml").write_text("attempts = 'many'\n")
    result, checks = _doctor("--llm", "nonsense", "--library", str(tmp_path / "s"), "--json")
    assert result.exit_code == 1
    assert checks["config"]["status"] == "FAIL" and "attempts" in checks["config"]["detail"]
    backend = checks["LLM backend nonsense"]
    assert backend["status"] == "FAIL" and "replay" in backend["detail"]  # lists the real ones


def test_an_existing_library_is_opened_and_checked(tmp_path, library):
    import scenarios

    library.add(scenarios.is_prime_module())
    result, checks = _doctor("--llm", "replay", "--library", library.location, "--json")
    assert checks["library"]["status"] == "OK", checks["library"]
    assert "1 module record(s)" in checks["library"]["detail"]


def test_a_plugin_that_fails_to_load_is_a_failure_with_the_fix(tmp_path, monkeypatch):
    import test_plugins_factory as factory

    site = tmp_path / "site"
    factory.make_plugin(site, "agentlib-broken", "broken", factory.FAILS_TO_IMPORT)
    monkeypatch.syspath_prepend(str(site))
    result, checks = _doctor("--llm", "replay", "--library", str(tmp_path / "s"), "--json")
    assert result.exit_code == 1
    broken = checks["plugin broken"]
    assert broken["status"] == "FAIL" and "ModuleNotFoundError" in broken["detail"]
    assert "pip uninstall agentlib-broken" in broken["fix"]
    assert checks["plugins"]["status"] == "OK" and "minilm" in checks["plugins"]["detail"]
