"""Cold-process wall time of everyday commands, next to a bare interpreter, with import times.

Each command runs as `python -m agentlib …` in a fresh process (the same interpreter and code
as this one), against a small library built first in a temporary directory; the `solve` is of
a rephrased task that the stored module passes, under the replay backend with no recordings,
so any LLM call would fail it: each run must report `reused` with 0 LLM calls. One untimed run
of each command first warms the disk cache and the bytecode; the timed runs are interleaved so
that a burst of load elsewhere spreads over all commands alike.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from agentlib.errors import AgentlibError

ADD = "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    return a + b\n"
STORED_TASK = "Write a function add(a, b) that returns the sum of a and b."
REUSED_TASK = "Add two numbers and return the result."
TESTS = ["assert add(2, 3) == 5", "assert add(-1, 1) == 0"]
QUERY = "sum of two numbers"
AGENTLIB = [sys.executable, "-m", "agentlib"]
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "agentlib --help": [*AGENTLIB, "--help"],
    "agentlib lib list": [*AGENTLIB, "lib", "list"],
    "agentlib lib search": [*AGENTLIB, "lib", "search", QUERY],
    "agentlib solve (reused)": [*AGENTLIB, "solve", REUSED_TASK,
                                *(arg for t in TESTS for arg in ("--test", t)), "--json"],
}
BASELINE = "python -c pass"
HEAVY = ("chromadb", "langgraph", "torch", "sentence_transformers", "transformers",
         "onnxruntime", "xllamacpp")
"""Packages a cold command should import only when it needs them (each costs 0.3-2 s)."""
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)\s*$")


@dataclass
class CommandTiming:
    """Wall times of one command over the timed runs."""

    name: str
    argv: list[str]
    times_s: list[float] = field(default_factory=list)
    heavy: list[str] = field(default_factory=list)
    """The `HEAVY` packages the command imported (seen in its untimed run)."""

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)


@dataclass
class ImportTime:
    """One line of `python -X importtime`: a module, its own and its cumulative import time."""

    module: str
    self_s: float
    cumulative_s: float
    depth: int


@dataclass
class ColdstartFigures:
    """What `coldstart_benchmark` measured."""

    runs: int
    embedder: str
    commands: list[CommandTiming]
    slowest: str
    imports: list[ImportTime]
    import_total_s: float
    solve_llm_calls: list[int]


def _environment(tmp: Path, embedder: str) -> dict[str, str]:
    """This process's environment without its settings (plugin selection kept), plus ours.

    `PYTHONDONTWRITEBYTECODE` is dropped too: an installed agentlib runs from bytecode (pip
    compiles on install, an editable install on first run), so the warm-up run must be able to
    write it; with the variable set, every timed run would compile agentlib from source.
    """
    from agentlib.config import SETTINGS

    dropped = ({spec.env for spec in SETTINGS.values()}
               | {"AGENTLIB_CONFIG", "AGENTLIB_HOME", "PYTHONDONTWRITEBYTECODE"})
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    empty = tmp / "no-recordings.json"
    empty.write_text("{}")
    env.update(AGENTLIB_HOME=str(tmp / "home"), AGENTLIB_STORE=str(tmp / "library"),
               AGENTLIB_LLM="replay", AGENTLIB_RECORDINGS=str(empty),
               AGENTLIB_EMBEDDER=embedder, HF_HUB_OFFLINE="1", COLUMNS="200")
    return env


def build_library(store: str, embedder: str) -> None:
    """Store `add` through the real library, as `agentlib solve` would have."""
    from agentlib.code import docstring, module_id, signature
    from agentlib.config import Settings
    from agentlib.model import Module
    from agentlib.runtime import Runtime

    library = Runtime(Settings(store=store, embedder=embedder)).open_library()
    library.add(Module(id=module_id(ADD), name="add", source=ADD, signature=signature(ADD, "add"),
                       docstring=docstring(ADD, "add"), tests=TESTS, task_prompt=STORED_TASK,
                       task_id="coldstart", backend="coldstart", model="none"))


def _run(name: str, argv: list[str], env: dict[str, str], cwd: Path,
         extra: list[str] | None = None) -> subprocess.CompletedProcess:
    command = argv[:1] + (extra or []) + argv[1:]
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise AgentlibError(f"coldstart: `{name}` exited {done.returncode}: "
                            f"{(done.stderr or done.stdout).strip()[-800:]}")
    return done


def _llm_calls(done: subprocess.CompletedProcess) -> int:
    """Return the solve's LLM calls; refuse a solve that did not reuse the stored module."""
    try:
        result = json.loads(done.stdout)
    except ValueError as exc:
        raise AgentlibError(f"coldstart: `solve --json` printed no JSON ({exc}): "
                            f"{done.stdout[:300]!r}") from exc
    if result.get("decision") != "reused" or result.get("llm_calls") != 0:
        raise AgentlibError(f"coldstart: the solve was {result.get('decision')!r} with "
                            f"{result.get('llm_calls')} LLM call(s), not reused with 0")
    return int(result["llm_calls"])


def parse_importtime(stderr: str) -> list[ImportTime]:
    """Return the lines of a `python -X importtime` report, in the order printed."""
    rows = []
    for line in stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            own, cumulative, indent, module = match.groups()
            rows.append(ImportTime(module, int(own) / 1e6, int(cumulative) / 1e6,
                                   len(indent) // 2))
    return rows


def heavy_imports(rows: list[ImportTime]) -> list[str]:
    """The `HEAVY` packages among the modules of an import-time report, in `HEAVY`'s order."""
    seen = {row.module.split(".")[0] for row in rows}
    return [name for name in HEAVY if name in seen]


def coldstart_benchmark(runs: int = 5, embedder: str = "minilm", top: int = 15,
                        on_run=None) -> ColdstartFigures:
    """Time each command `runs` times from a cold process; break down the slowest's imports."""
    with tempfile.TemporaryDirectory(prefix="agentlib-coldstart-") as name:
        tmp = Path(name)
        env = _environment(tmp, embedder)
        # in a child process, so this one holds no Chroma files of a directory it deletes
        _run("build the library", [sys.executable, "-c", "import sys; from agentlib.bench."
                                   "coldstart import build_library; build_library(*sys.argv[1:])",
                                   env["AGENTLIB_STORE"], embedder], env, tmp)
        timings = [CommandTiming(n, argv) for n, argv in COMMANDS.items()]
        calls = []
        for timing in timings:  # untimed: disk cache, bytecode, sandbox first use; imports
            warm = _run(timing.name, timing.argv, env, tmp, extra=["-X", "importtime"])
            timing.heavy = heavy_imports(parse_importtime(warm.stderr))
        for _ in range(runs):
            for timing in timings:
                start = time.perf_counter()
                done = _run(timing.name, timing.argv, env, tmp)
                timing.times_s.append(time.perf_counter() - start)
                if timing.name.startswith("agentlib solve"):
                    calls.append(_llm_calls(done))
                if on_run is not None:
                    on_run(timing.name)
        slowest = max((t for t in timings if t.name != BASELINE), key=lambda t: t.median_s)
        report = _run(slowest.name, slowest.argv, env, tmp, extra=["-X", "importtime"])
    imports = parse_importtime(report.stderr)
    total = sum(row.cumulative_s for row in imports if row.depth == 0)
    ranked = sorted(imports, key=lambda row: -row.cumulative_s)[:top]
    return ColdstartFigures(runs, embedder, timings, slowest.name, ranked, total, calls)
