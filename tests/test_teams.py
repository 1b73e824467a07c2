"""Many writers, one library, each through the real CLI: concurrent solves of one name with
different meanings (embedded and on a Chroma server), and concurrent imports to one server.

The LLM is not what these tests are about: it is a scripted one, registered through the real
`register_llms` hook by a small plugin distribution made in tmp_path, that answers each task
with the code its prompt names. Everything else is real: the CLI processes, the sandbox, the
MiniLM embedder, Chroma on disk and a `chroma run` server on loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from test_plugins_factory import make_plugin

from agentlib.library.store import Library
from agentlib.model import TestCase as Case
from agentlib.sandbox import run

# Four tasks for one function name, `val`: three meanings that disagree on every test, and a
# fourth (delta) that means what alpha means, written another way.
MEANINGS = {
    "alpha": ("x * 3", ["assert val(2) == 6", "assert val(0) == 0"]),
    "bravo": ("x + 100", ["assert val(1) == 101"]),
    "charlie": ("x - 7", ["assert val(10) == 3"]),
    "delta": ("x + x + x", ["assert val(5) == 15", "assert val(1) == 3"]),
}

SCRIPTED = '''
from agentlib.llm import Completion
from agentlib.plugins import hookimpl

ANSWERS = {answers!r}


class ScriptedLLM:
    """Answers a task with the code its first line (`Task: ...`) names."""

    name = "scripted"

    def complete(self, messages, **options):
        task = messages[-1]["content"].splitlines()[0]
        for word, body in ANSWERS.items():
            if word in task:
                return Completion(text=f"```python\\ndef val(x):\\n    return {{body}}\\n```",
                                  prompt_tokens=1, completion_tokens=1)
        return Completion(text="no answer scripted", prompt_tokens=1, completion_tokens=1)


@hookimpl
def register_llms(register):
    register("scripted", lambda settings: ScriptedLLM())
'''


def scripted_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a CLI process that uses the scripted LLM (and no other plugin)."""
    site = tmp_path / "site"
    if not site.exists():
        make_plugin(site, "agentlib-teams-scripted", "teams-scripted",
                    SCRIPTED.format(answers={w: body for w, (body, _) in MEANINGS.items()}))
    env = dict(os.environ)
    env.update(PYTHONPATH=os.pathsep.join([str(site), env.get("PYTHONPATH", "")]),
               AGENTLIB_PLUGINS="teams-scripted", AGENTLIB_LLM="scripted",
               AGENTLIB_HOME=str(tmp_path / "home"), PYTHONHASHSEED="0", COLUMNS="200")
    env.pop("AGENTLIB_NO_PLUGINS", None)
    return env


def _solve_all_at_once(tmp_path: Path, location: str) -> list[dict]:
    env = scripted_env(tmp_path)
    procs = []
    for word, (_, tests) in MEANINGS.items():
        cmd = [sys.executable, "-m", "agentlib", "solve", f"Compute val, the {word} way.",
               "--json", "--library", location]
        for test in tests:
            cmd += ["--test", test]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        assert "Traceback" not in err
        results.append(json.loads(out))
    return results


def _passes(library: Library, module, tests: list[str]) -> bool:
    program = library.program_for(module)
    return run(program, [Case(t) for t in tests]).passed


def assert_no_behaviour_lost(library: Library, meanings: dict[str, list[str]]) -> None:
    """Every meaning is served by an active module (under its name or a new one), at most one
    module of a name is active, and each version passes the tests of the one it superseded."""
    from agentlib.code import rename_source

    assert library.check() == [], library.check()
    active = library.list()
    for word, tests in meanings.items():
        served = [m for m in active if m.name.startswith("val") and _passes(
            library, m, [rename_source(t, "val", m.name).strip() for t in tests])]
        assert served, f"the {word} meaning is no longer reachable: {[m.name for m in active]}"
    names = {m.name for m in library.list(status=None)}
    for name in names:
        history = library.history(name)
        assert [m.version for m in history] == sorted({m.version for m in history})
        assert sum(m.status == "active" for m in history) <= 1
        for older, newer in zip(history, history[1:], strict=False):
            assert _passes(library, newer, older.tests), (
                f"{name} v{newer.version} superseded v{older.version} without its tests")


def _check(tmp_path: Path, location: str, embedder) -> None:
    results = _solve_all_at_once(tmp_path, location)
    assert all(r["status"] == "solved" for r in results)
    library = Library(location, embedder)
    try:
        assert_no_behaviour_lost(library, {w: tests for w, (_, tests) in MEANINGS.items()})
        print([(r["decision"], [(s["decision"], s["detail"]) for s in r["trace"]
                                if s["node"] == "store"]) for r in results])
        stored = [m.name for m in library.list()]
        assert {"val", "val_2", "val_3"} <= set(stored)  # three meanings that disagree
    finally:
        library.close()


def test_solves_of_one_name_at_once_keep_every_meaning_embedded(tmp_path, embedder):
    _check(tmp_path, str(tmp_path / "store"), embedder)


def test_solves_of_one_name_at_once_keep_every_meaning_on_a_server(tmp_path, embedder,
                                                                    chroma_server):
    _check(tmp_path, chroma_server.url, embedder)


def _export(path: Path, offset: int, shared: int, own: str, work: int = 0) -> None:
    """An export with `shared` names f_i (meaning x + i + offset), helpers g_i that call f_i,
    and five names of its own; `work` > 0 makes each f_i sum a range that long first (slow
    to verify)."""
    from agentlib.code import docstring, module_id, signature
    from agentlib.library.portable import FORMAT, FORMAT_VERSION
    from agentlib.model import Module

    def module(name: str, body: str, tests: list[str], deps=()) -> dict:
        source = f"def {name}(x):\n    return {body}\n"
        record = Module(id=module_id(source), name=name, source=source,
                        signature=signature(source, name), docstring=docstring(source, name),
                        tests=tests, dependencies=list(deps), task_prompt=f"{name} {offset}",
                        created_at=1.0)
        return {"kind": "module", **record.to_dict()}

    records = [{"kind": FORMAT, "version": FORMAT_VERSION, "embedder": "all-MiniLM-L6-v2"}]
    for i in range(shared):
        body = f"x + {i + offset}" + (f" + 0 * sum(range({work}))" if work else "")
        records.append(module(f"f_{i}", body, [f"assert f_{i}(0) == {i + offset}"]))
    for i in range(0, shared, 3):
        records.append(module(f"g_{i}", f"f_{i}(x) * 2", [f"assert g_{i}(0) == {2 * (i + offset)}"],
                              [f"f_{i}"]))
    for j in range(5):
        records.append(module(f"{own}_{j}", f"x * {j}", [f"assert {own}_{j}(1) == {j}"]))
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_imports_sharing_names_at_once_leave_one_active_module_per_name_on_a_server(
        tmp_path, embedder, chroma_server):
    """Three `lib import`s of files sharing 30 names (each with its own meaning for them, and
    helpers calling them) against one server at once: each name ends up active once, and every
    active module passes its tests with the dependencies it now resolves to."""
    files = []
    for n, offset in enumerate((0, 1000, 2000)):
        files.append(tmp_path / f"export-{n}.jsonl")
        _export(files[-1], offset, 30, f"own{n}")
    env = dict(os.environ, AGENTLIB_NO_PLUGINS="1", AGENTLIB_HOME=str(tmp_path / "home"))
    procs = [subprocess.Popen([sys.executable, "-m", "agentlib", "lib", "import", str(f),
                               "--library", chroma_server.url], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for f in files]
    outputs = [p.communicate(timeout=900) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode in (0, 1) and "Traceback" not in err, err[-3000:]
        assert out.startswith("imported ")
    library = Library(chroma_server.url, embedder)
    try:
        active = library.list()
        names = [m.name for m in active]
        assert len(names) == len(set(names))  # no duplicate active name
        assert {f"f_{i}" for i in range(30)} <= set(names)
        assert {f"own{n}_{j}" for n in range(3) for j in range(5)} <= set(names)
        assert library.check(run_tests=True) == []
        imported = sum(int(out.split()[1]) for out, _ in outputs)
        assert imported == len(active)  # what each import reported is what is there
        winners = {m.source.split("+ ")[1].strip() for m in active if m.name.startswith("f_")}
        print("f_i meanings that won:", sorted(winners)[:5], "...", "imported", imported)
    finally:
        library.close()


def test_the_scripted_llm_answers_through_the_real_hook(tmp_path):
    """The helper itself: one solve with the scripted LLM stores its answer."""
    env = scripted_env(tmp_path)
    done = subprocess.run([sys.executable, "-m", "agentlib", "solve", "Compute val, the bravo way.",
                           "--test", "assert val(1) == 101", "--json", "--library",
                           str(tmp_path / "store")], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "x + 100" in json.loads(done.stdout)["program"]


def test_shards_of_one_batch_on_one_server_keep_every_meaning(tmp_path, embedder,
                                                              chroma_server):
    """`--shard 1/2` and `--shard 2/2` of one task file run at once against one server, each
    with its own results file: every task is solved once across the shards and no verified
    behaviour is lost or superseded untested."""
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps({"id": word, "prompt": f"Compute val, the {word} way.",
                                         "tests": tests, "entry_point": "val"}) + "\n"
                             for word, (_, tests) in MEANINGS.items()))
    env = scripted_env(tmp_path)
    procs = [subprocess.Popen([sys.executable, "-m", "agentlib", "solve", "--file", str(tasks),
                               "--out", str(tmp_path / f"results-{i}.jsonl"), "--shard",
                               f"{i}/2", "--library", chroma_server.url], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for i in (1, 2)]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0 and "Traceback" not in err, err[-3000:]
    records = [json.loads(line) for i in (1, 2)
               for line in (tmp_path / f"results-{i}.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in records) == sorted(MEANINGS)
    assert all(r["status"] == "solved" for r in records)
    library = Library(chroma_server.url, embedder)
    try:
        assert_no_behaviour_lost(library, {w: tests for w, (_, tests) in MEANINGS.items()})
    finally:
        library.close()
