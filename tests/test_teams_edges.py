"""The edges of many writers: one writer per results file, safe first opens, read-only and
full libraries, leftovers of killed reindexes, lock waits that say who is in the way.

Real components throughout (CLI processes, Chroma on disk, the sandbox). Where a child
process only needs a library open, it embeds with the hashing embedder of
test_store_durability (these tests are not about embeddings).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import scenarios
from conftest import RECORDINGS
from servers import FrozenServer
from test_batch import _task_file
from test_library import double, make, quadruple

from agentlib.errors import StoreError
from agentlib.library.store import Library

HERE = Path(__file__).parent


def _env(tmp_path, **settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(AGENTLIB_HOME=str(tmp_path / "home"), AGENTLIB_NO_PLUGINS="1",
               PYTHONHASHSEED="0", COLUMNS="200", **settings)
    return env


def _cli(tmp_path, *args, prefix=(), **settings) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "agentlib", *args],
                          env=_env(tmp_path, **settings), capture_output=True, text=True,
                          timeout=300)


def _filled(path: Path, embedder) -> Path:
    with Library(str(path), embedder) as library:
        library.add(double())
        library.add(quadruple())
    return path


def test_a_second_run_on_the_same_results_file_says_who_holds_it(tmp_path):
    """The first batch hangs on a frozen model server while holding results.jsonl; a second
    run on the same --out refuses at once, naming the first one's pid, host and start."""
    frozen = FrozenServer()
    tasks = _task_file(tmp_path / "tasks.jsonl", [scenarios.ADD])
    out = tmp_path / "results.jsonl"
    args = ["solve", "--file", str(tasks), "--out", str(out), "--resume", "--no-library",
            "--llm", "openai", "--base-url", frozen.base_url, "--model", "m"]
    first = subprocess.Popen([sys.executable, "-m", "agentlib", *args],
                             env=_env(tmp_path, AGENTLIB_SERVER_TIMEOUT_S="120"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while frozen.accepted == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        second = _cli(tmp_path, *args)
    finally:
        first.kill()
        first.wait()
        frozen.close()
    assert second.returncode == 1 and "Traceback" not in second.stderr
    message = " ".join(second.stderr.split())
    assert f"pid {first.pid} on host {socket.gethostname()}" in message
    assert "another batch writes it" in message and " since " in message


def test_four_first_opens_of_a_new_library_at_once_never_crash(tmp_path):
    """Chroma creates its tables on first open; four processes doing it at once used to fail
    ("table collections already exists"). Three rounds of four `lib import` of an empty file
    on a new path (`lib import` creates a library; `lib list` never does)."""
    from agentlib.library.portable import FORMAT, FORMAT_VERSION

    empty = tmp_path / "empty.jsonl"  # an export of an empty library: its header only
    empty.write_text(json.dumps({"kind": FORMAT, "version": FORMAT_VERSION}) + "\n")
    for round_ in range(3):
        store = tmp_path / f"new-{round_}"
        procs = [subprocess.Popen([sys.executable, "-m", "agentlib", "lib", "import", str(empty),
                                   "--library", str(store)], env=_env(tmp_path),
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
        for proc in procs:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, f"round {round_}: {err[-2000:]}"
    assert _cli(tmp_path, "lib", "check", "--library", str(tmp_path / "new-0")).returncode == 0


def test_a_new_library_directory_made_by_another_process_meanwhile_is_opened(
        tmp_path, embedder, monkeypatch):
    """Another process creates the new library's directory just before this one does (what
    failed a run of the test above: "File exists"): the open goes on."""
    store = tmp_path / "new"
    mkdir = Path.mkdir

    def raced(self, *args, **kwargs):
        if self == store:
            mkdir(self)  # the other process, first
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", raced)
    with Library(str(store), embedder) as library:
        library.add(double())
        assert [m.name for m in library.list()] == ["double"]


def _read_only(path: Path) -> list[str]:
    """A command prefix under which `path` is read-only, even for root (a read-only bind
    mount by bubblewrap); not root: the directory is made unwritable instead."""
    if os.geteuid() != 0:
        for item in [path, *path.rglob("*")]:
            item.chmod(item.stat().st_mode & ~0o222)
        return []
    bwrap = shutil.which("bwrap")
    assert bwrap, "bubblewrap (the sandbox's) is needed to make a read-only mount"
    return [bwrap, "--dev-bind", "/", "/", "--ro-bind", str(path), str(path), "--"]


def test_a_read_only_library_is_readable_and_refuses_writes_clearly(tmp_path, embedder):
    store = _filled(tmp_path / "store", embedder)
    before = sorted(p.name for p in store.iterdir())
    ro = _read_only(store)
    listed = _cli(tmp_path, "lib", "list", "--json", "--library", str(store), prefix=ro)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert [m["name"] for m in json.loads(listed.stdout)] == ["double", "quadruple"]
    for args in (["lib", "show", "quadruple"], ["lib", "search", "four times"],
                 ["lib", "check"], ["lib", "history", "double"], ["lib", "stats"],
                 ["lib", "export", str(tmp_path / "out.jsonl")]):
        done = _cli(tmp_path, *args, "--library", str(store), prefix=ro)
        assert done.returncode == 0, (args, done.stderr[-2000:])
    assert "quadruple" in _cli(tmp_path, "lib", "search", "four times", "--library",
                               str(store), prefix=ro).stdout
    refused = _cli(tmp_path, "lib", "rm", "quadruple", "--library", str(store), prefix=ro)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "cannot be written: the directory is read-only" in " ".join(refused.stderr.split())
    assert sorted(p.name for p in store.iterdir()) == before


_FULL_DISK = """
set -u
mount -t tmpfs -o size=6m tmpfs "$MNT" || exit 97
cp -a "$LIB" "$MNT/lib"
dd if=/dev/zero of="$MNT/fill" bs=64k 2>/dev/null
run() { name=$1; shift; "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"; echo $? >"$OUT/$name.rc"; }
run import-full $PY -m agentlib lib import "$EXPORT" --library "$MNT/lib"
run list-full $PY -m agentlib lib list --json --library "$MNT/lib"
run check-full $PY -m agentlib lib check --library "$MNT/lib"
run rm-full $PY -m agentlib lib rm quadruple --library "$MNT/lib"
rm "$MNT/fill"
run rm-free $PY -m agentlib lib rm quadruple --library "$MNT/lib"
run list-free $PY -m agentlib lib list --json --library "$MNT/lib"
run check-free $PY -m agentlib lib check --library "$MNT/lib"
"""


def test_a_full_disk_gives_a_clear_error_and_leaves_the_library_readable(tmp_path, embedder):
    """On a real full filesystem (a 6 MB tmpfs mounted in a private user and mount namespace
    with `unshare -rm`, filled up): an import says why it cannot write, and stores nothing;
    list and check work; once space is freed, writes go through. (Root gets a mount namespace
    only; others a user namespace too, where the sandbox cannot run: so the write after
    freeing space is a `lib rm`, which needs no sandbox.)"""
    store = _filled(tmp_path / "store", embedder)
    with Library(str(tmp_path / "other"), embedder) as other:
        other.add(make("triple", "    return 3 * x", ["assert triple(2) == 6"],
                       "triple a number"))
        from agentlib.library.portable import export_jsonl

        export_jsonl(other, tmp_path / "export.jsonl")
    mnt, out = tmp_path / "mnt", tmp_path / "out"
    mnt.mkdir()
    out.mkdir()
    unshare = shutil.which("unshare")
    assert unshare, "util-linux unshare is needed to mount a private tmpfs"
    env = _env(tmp_path, MNT=str(mnt), LIB=str(store), OUT=str(out), PY=sys.executable,
               EXPORT=str(tmp_path / "export.jsonl"))
    flags = "-m" if os.geteuid() == 0 else "-rm"
    done = subprocess.run([unshare, flags, "sh", "-c", _FULL_DISK], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr

    def result(name: str) -> tuple[int, str, str]:
        return (int((out / f"{name}.rc").read_text()), (out / f"{name}.out").read_text(),
                " ".join((out / f"{name}.err").read_text().split()))

    rc, _, err = result("import-full")
    assert rc == 1 and "Traceback" not in err and "the disk is full" in err, err
    rc, listed, err = result("list-full")
    assert rc == 0, err
    assert [m["name"] for m in json.loads(listed)] == ["double", "quadruple"]
    assert result("check-full")[0] == 0
    rc, _, err = result("rm-full")
    assert rc == 1 and "the disk is full" in err, err
    rc, said, err = result("rm-free")
    assert rc == 0 and said.startswith("pruned quadruple"), err
    rc, listed, err = result("list-free")
    assert [m["name"] for m in json.loads(listed)] == ["double"]
    assert result("check-free")[0] == 0, result("check-free")


class _FailingUpsert:
    """The modules collection, with an upsert that fails before or after it wrote (a disk
    that fills up mid-write can fail Chroma after its SQLite commit)."""

    def __init__(self, collection, after: bool) -> None:
        self._collection = collection
        self._after = after

    def __getattr__(self, name):
        return getattr(self._collection, name)

    def upsert(self, **kwargs):
        if self._after:
            self._collection.upsert(**kwargs)
        raise OSError(28, "No space left on device")


@pytest.mark.parametrize("after", [False, True])
def test_a_failed_write_is_read_back_and_reported_as_what_happened(library, after, caplog):
    """An injected ENOSPC at the write call (the tmpfs test above shows a real full disk):
    a write that did not land raises 'nothing was stored' and leaves nothing; one that
    landed before the error counts as stored, with a warning, never as a failure (its
    timestamp read back one float off is still the one written)."""
    library.add(double())
    library.conn._collections["modules"] = _FailingUpsert(library.modules, after)
    if after:
        module = quadruple()
        module.created_at = 1796288711.8575177  # Chroma reads it back as …75, the float before
        stored = library.add(module)
        assert library.get("quadruple").id == stored.id
        assert "but the 1 record(s) were stored" in caplog.text
    else:
        with pytest.raises(StoreError, match="No space left on device.*nothing was stored"):
            library.add(quadruple())
        assert library.get("quadruple") is None
    assert library.check() == []


def test_check_reports_and_repair_removes_what_a_killed_reindex_left(tmp_path, embedder):
    store = _filled(tmp_path / "store", embedder)
    with Library(str(store), embedder) as library:  # what a reindex killed before its swap left
        from agentlib.library.chroma import HNSW

        partial = library.conn.client.create_collection(
            "modules-reindex", metadata=library.collection_metadata,
            configuration={"hnsw": dict(HNSW)}, embedding_function=None)
        partial.add(ids=["x"], embeddings=[library.embed("x")], documents=["x"],
                    metadatas=[{"name": "x"}])
    found = _cli(tmp_path, "lib", "check", "--library", str(store))
    message = " ".join(found.stderr.split())
    assert found.returncode == 1 and "modules-reindex: a partial collection (1 record(s))" in \
        message and "--repair" in message
    repaired = _cli(tmp_path, "lib", "check", "--repair", "--library", str(store))
    assert repaired.returncode == 0, repaired.stderr
    assert "ok: 2 module record(s)" in repaired.stdout
    assert _cli(tmp_path, "lib", "check", "--library", str(store)).returncode == 0


_HOLDER = """
import sys, time
sys.path.insert(0, sys.argv[2])
from agentlib.library.chroma import connect
conn = connect(sys.argv[1])
with conn.write():
    print("holding", flush=True)
    time.sleep(float(sys.argv[3]))
"""


def test_a_lock_wait_says_who_holds_the_lock_and_gives_up_after_the_timeout(tmp_path, embedder):
    """Another process holds the write lock: `lib rm` waits `lock_timeout_s`, says (after 2 s)
    who it waits for, then gives up naming pid, host, command and since when; a reader
    (`lib list`) answers at once meanwhile."""
    store = _filled(tmp_path / "store", embedder)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(store), str(HERE), "60"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        start = time.monotonic()
        listed = _cli(tmp_path, "lib", "list", "--library", str(store))
        list_s = time.monotonic() - start
        start = time.monotonic()
        refused = _cli(tmp_path, "lib", "rm", "quadruple", "--library", str(store),
                       AGENTLIB_LOCK_TIMEOUT_S="3")
        waited = time.monotonic() - start
    finally:
        holder.kill()
        holder.wait()
    assert listed.returncode == 0 and "quadruple" in listed.stdout
    message = " ".join(refused.stderr.split())
    assert refused.returncode == 1 and "Traceback" not in message
    assert f"waiting for the write lock of the library at {store}: held by pid {holder.pid}" \
        in message
    assert f"held by pid {holder.pid} on host {socket.gethostname()}" in message
    assert "gave up after waiting 3 s (setting lock_timeout_s" in message and " since " in message
    assert 3 <= waited < 60
    print(f"lib list during the hold: {list_s:.1f} s; lib rm gave up after {waited:.1f} s")


def test_lib_list_answers_while_an_import_of_200_modules_verifies(tmp_path, embedder):
    """The import verifies its 200 modules in the sandbox without the write lock; a `lib
    list` started meanwhile answers at once (asserted under 10 s to stay robust on a loaded
    machine; the figure is printed)."""
    from test_teams import _export

    store = _filled(tmp_path / "store", embedder)
    export = tmp_path / "export.jsonl"
    # 150 f_i + 50 g_i + 5 of its own: 205 modules; each f_i sums a range of 4 million
    # first, so that verifying them outlasts `lib list` on a quiet machine too
    _export(export, 0, 150, "own", work=4_000_000)
    importer = subprocess.Popen([sys.executable, "-m", "agentlib", "lib", "import", str(export),
                                 "--library", str(store)], env=_env(tmp_path),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(8)  # past its start-up: verifying now
        assert importer.poll() is None
        start = time.monotonic()
        listed = _cli(tmp_path, "lib", "list", "--json", "--library", str(store))
        elapsed = time.monotonic() - start
        still_verifying = importer.poll() is None
        out, err = importer.communicate(timeout=900)
    finally:
        if importer.poll() is None:
            importer.kill()
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert [m["name"] for m in json.loads(listed.stdout)] == ["double", "quadruple"]
    assert still_verifying, "the import finished before lib list did: the test proves little"
    assert importer.returncode == 0 and out.startswith("imported 205 module"), err[-2000:]
    print(f"lib list took {elapsed:.2f} s while the import verified")
    assert elapsed < 10


def test_close_releases_the_clients_files(tmp_path, embedder):
    """Each open Chroma client holds ~11 descriptors; closing a library gives them back."""
    def descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    Library(str(tmp_path / "warm"), embedder).close()
    before = descriptors()
    for n in range(8):
        library = Library(str(tmp_path / f"lib-{n}"), embedder)
        library.add(double())
        library.close()
    assert descriptors() - before < 4, (before, descriptors())


def test_a_reuse_solve_writes_its_counters_in_one_write(tmp_path, embedder, builtin_pm,
                                                        monkeypatch):
    """Counting retrievals and the reuse no longer takes the write lock per counter: the
    solve's increments are written once, at its end."""
    from agentlib.agent import Agent
    from agentlib.config import Settings
    from agentlib.library.chroma import Connection
    from agentlib.llm.replay import ReplayLLM

    library = Library(str(tmp_path / "store"), embedder)
    agent = Agent(Settings(store=library.location, llm="replay", use_insights=False),
                  llm=ReplayLLM(str(RECORDINGS / "agent.json")), library=library, pm=builtin_pm)
    assert agent.solve(scenarios.ADD).decision == "created"
    writes = []
    real = Connection._bump
    monkeypatch.setattr(Connection, "_bump", lambda self: (writes.append(1), real(self)))
    again = agent.solve(scenarios.ADD_REPHRASED)
    assert again.decision == "reused"
    assert len(writes) == 1
    module = Library(library.location, embedder).stored(library.get("add").id)
    assert (module.times_retrieved, module.times_reused) == (1, 1)


def test_reindex_embeds_without_holding_the_write_lock(tmp_path, embedder):
    """The slow part of a reindex (embedding every record) runs with the lock free."""
    library = _filled(tmp_path / "store", embedder)
    library = Library(str(library), embedder)
    free: list[bool] = []

    class Watching:
        name, fingerprint, dimension = embedder.name, embedder.fingerprint, embedder.dimension

        def embed(self, texts):
            free.append(library.conn.lock.free())
            return embedder.embed(texts)

    library.embedder = Watching()
    assert library.reindex() == 2
    assert free and all(free)
    assert library.check() == []
