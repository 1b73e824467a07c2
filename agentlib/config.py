"""Settings with documented defaults, read from the environment and the config file (never at
import time).

Each setting comes from, first to last: the command-line option, the environment variable,
`config.toml` in the agentlib home (or the file $AGENTLIB_CONFIG names), the built-in default.
`agentlib config show` prints every setting with where its value came from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentlib.errors import AgentlibError


def agentlib_home() -> Path:
    """Return the agentlib home (models, history): $AGENTLIB_HOME or ~/.local/share/agentlib."""
    env = os.environ.get("AGENTLIB_HOME")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "agentlib"


def config_path() -> Path:
    """Return the config file: $AGENTLIB_CONFIG or config.toml in the agentlib home."""
    env = os.environ.get("AGENTLIB_CONFIG")
    return Path(env).expanduser() if env else agentlib_home() / "config.toml"


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its environment variable, type, built-in default and meaning."""

    name: str
    env: str
    type: type
    default: Any
    help: str


SETTINGS: dict[str, SettingSpec] = {spec.name: spec for spec in (
    SettingSpec("store", "AGENTLIB_STORE", str, "library_store",
                "Library location: a directory, or http://HOST:PORT for a Chroma server."),
    SettingSpec("llm", "AGENTLIB_LLM", str, "local",
                "LLM backend name (local, openai, replay, or one a plugin registers)."),
    SettingSpec("model", "AGENTLIB_MODEL", str, "default",
                "For local: `default`, `small` or a GGUF path. For openai: the model name."),
    SettingSpec("base_url", "AGENTLIB_BASE_URL", str, "",
                "For openai: the endpoint, e.g. http://127.0.0.1:8080/v1."),
    SettingSpec("recordings", "AGENTLIB_RECORDINGS", str, "",
                "For replay: the recording file."),
    SettingSpec("embedder", "AGENTLIB_EMBEDDER", str, "minilm",
                "Embedder name: minilm (numpy), minilm-st (the same model through "
                "sentence-transformers), or one a plugin registers."),
    SettingSpec("attempts", "AGENTLIB_ATTEMPTS", int, 6,
                "Generate + repair attempts before giving up."),
    SettingSpec("repair_temperature", "AGENTLIB_REPAIR_TEMPERATURE", float, 0.7,
                "Sampling temperature of repairs (0: greedy); seeded per attempt."),
    SettingSpec("cross_check", "AGENTLIB_CROSS_CHECK", str, "weak",
                "When a candidate that passed its tests is compared with one independent "
                "implementation: weak (only when the tests are weak), always, never."),
    SettingSpec("top_k", "AGENTLIB_TOP_K", int, 5,
                "Library modules retrieved per task (all are tried for reuse)."),
    SettingSpec("module_max_distance", "AGENTLIB_MODULE_MAX_DISTANCE", float, 0.6,
                "Cosine distance beyond which a retrieved module is not shown to the model."),
    SettingSpec("module_code_chars", "AGENTLIB_MODULE_CODE_CHARS", int, 600,
                "The nearest shown module's code is in the prompt when it is at most this "
                "many characters (0: signatures, descriptions and examples only)."),
    SettingSpec("use_library", "AGENTLIB_USE_LIBRARY", bool, True,
                "False: neither retrieve nor store (ablation)."),
    SettingSpec("test_timeout_s", "AGENTLIB_TEST_TIMEOUT_S", float, 5.0,
                "Wall-clock limit of one test in the sandbox, in seconds."),
    SettingSpec("use_insights", "AGENTLIB_USE_INSIGHTS", bool, True,
                "False: neither retrieve nor learn insights (ablation)."),
    SettingSpec("insight_k", "AGENTLIB_INSIGHT_K", int, 3, "Insights retrieved per task."),
    SettingSpec("evolve_every", "AGENTLIB_EVOLVE_EVERY", int, 25,
                "Batch runs evolve insights after every this many tasks (0: never)."),
    SettingSpec("insight_max_distance", "AGENTLIB_INSIGHT_MAX_DISTANCE", float, 0.45,
                "Cosine distance beyond which a retrieved insight is ignored."),
    SettingSpec("lock_timeout_s", "AGENTLIB_LOCK_TIMEOUT_S", float, 300.0,
                "How long a write waits for an embedded library's write lock before it gives "
                "up saying who holds it, in seconds."),
    SettingSpec("server_timeout_s", "AGENTLIB_SERVER_TIMEOUT_S", float, 120.0,
                "How long one request to the library server or the model server may take, "
                "in seconds."),
    SettingSpec("server_retries", "AGENTLIB_SERVER_RETRIES", int, 3,
                "How often a failed request to a server is retried (timeouts, dropped "
                "connections; a Chroma server's refused connections too) before the task "
                "is reported as an error."),
    SettingSpec("server_backoff_s", "AGENTLIB_SERVER_BACKOFF_S", float, 1.0,
                "Wait before the first retry, in seconds; doubled for each next one (at "
                "most 8 s)."),
)}


_KIND = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}


class ConfigError(AgentlibError):
    """The config file or a setting's environment variable holds a bad value."""


def read_config_file(path: Path | None = None) -> dict[str, Any]:
    """Return the settings in the TOML config file ({} when there is none), checked."""
    import tomllib

    path = path or config_path()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}. Fix or remove the file.") from None
    unknown = sorted(set(data) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: "
                          f"{', '.join(SETTINGS)}")
    for name, value in data.items():
        data[name] = _check(SETTINGS[name], value, f"{path}: setting {name!r}")
    return data


def _check(spec: SettingSpec, value: Any, where: str) -> Any:
    if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, spec.type) or (spec.type is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be {_KIND[spec.type]}, got {value!r}")
    return value


def _from_env(spec: SettingSpec, raw: str) -> Any:
    where = f"environment variable {spec.env}"
    if spec.type is str:
        return raw
    if spec.type is bool:
        if raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if raw.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where} must be true or false, got {raw!r}")
    try:
        return spec.type(raw)
    except ValueError:
        raise ConfigError(f"{where} must be {_KIND[spec.type]}, got {raw!r}") from None


def setting_source(name: str) -> tuple[Any, str]:
    """Return the value of setting `name` and where it came from: environment, config file
    or default."""
    spec = SETTINGS[name]
    raw = os.environ.get(spec.env)
    if raw is not None:
        return _from_env(spec, raw), "environment"
    values = read_config_file()
    if name in values:
        return values[name], "config file"
    return spec.default, "default"


def _default(name: str):
    return field(default_factory=lambda: setting_source(name)[0])


@dataclass
class Settings:
    """Per-run settings; see SETTINGS for each field's environment variable and meaning."""

    store: str = _default("store")
    """Library location: a directory, or http://HOST:PORT for a Chroma server."""
    llm: str = _default("llm")
    """LLM backend name (local, openai, replay, or one a plugin registers)."""
    model: str = _default("model")
    """For local: `default`, `small` or a GGUF path. For openai: the model name."""
    base_url: str = _default("base_url")
    """For openai: the endpoint, e.g. http://127.0.0.1:8080/v1."""
    recordings: str = _default("recordings")
    """For replay: the recording file."""
    embedder: str = _default("embedder")
    """Embedder name: minilm (numpy), minilm-st (sentence-transformers), or a plugin's."""
    attempts: int = _default("attempts")
    """Generate + repair attempts before giving up."""
    repair_temperature: float = _default("repair_temperature")
    """Sampling temperature of repairs (0: greedy); seeded per attempt."""
    cross_check: str = _default("cross_check")
    """Compare a candidate with an independent implementation: weak | always | never."""
    top_k: int = _default("top_k")
    """Library modules retrieved per task (all are tried for reuse)."""
    module_max_distance: float = _default("module_max_distance")
    """Cosine distance beyond which a retrieved module is not shown to the model."""
    module_code_chars: int = _default("module_code_chars")
    """The nearest shown module's code is in the prompt when at most this many characters."""
    use_library: bool = _default("use_library")
    """False: neither retrieve nor store (ablation)."""
    test_timeout_s: float = _default("test_timeout_s")
    """Wall-clock limit of one test in the sandbox."""
    use_insights: bool = _default("use_insights")
    """False: neither retrieve nor learn insights (ablation)."""
    insight_k: int = _default("insight_k")
    """Insights retrieved per task."""
    evolve_every: int = _default("evolve_every")
    """Batch runs evolve insights after every this many tasks (0: never)."""
    insight_max_distance: float = _default("insight_max_distance")
    """Cosine distance beyond which a retrieved insight is ignored."""
    lock_timeout_s: float = _default("lock_timeout_s")
    """How long a write waits for an embedded library's write lock."""
    server_timeout_s: float = _default("server_timeout_s")
    """How long one request to the library server or the model server may take."""
    server_retries: int = _default("server_retries")
    """How often a failed request to a server is retried."""
    server_backoff_s: float = _default("server_backoff_s")
    """Wait before the first retry (doubled for each next one, at most 8 s)."""

    def home(self) -> Path:
        return agentlib_home()
