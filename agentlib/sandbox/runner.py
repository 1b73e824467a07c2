"""Run untrusted programs against tests in an isolated child process.

The full policy — what is protected and what is not — is docs/sandbox.md. In short, with
bubblewrap (the mode used when `bwrap` works; `detect_isolation` says which mode applies):

Protected: the host's files (read-only system, private size-limited /tmp and /work, nothing
else mounted); the network (empty network namespace); other processes (PID namespace, an
unprivileged uid per run so RLIMIT_NPROC caps fork bombs, every process of that uid killed
after each test); resources per test process (address space, CPU seconds, file size, open
files, processes, wall clock) and a watch on their total resident memory; a seccomp filter
against user namespaces, memfd and other risky kernel interfaces; secrets in the environment (scrubbed, `python -I -S`); forged results
(`harness.py` judges asserts, pairs and doctests from plain built-in values).

Not protected: kernel or bubblewrap exploits, side channels, memory bursts faster than
the 20 ms watch (up to processes × memory_mb), tests that are several statements (the child
reports its own success; the verdict's detail counts them), a program that knows and returns
the expected outputs (see `static.special_cases_tests`), and — without bubblewrap — the
filesystem and the network (a SandboxWarning says so).
"""

from __future__ import annotations

import importlib.util
import json
import marshal
import os
import secrets
import select
import shutil
import struct
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import warnings
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path

from agentlib.errors import SandboxError
from agentlib.model import TestCase, TestResult, Verdict
from agentlib.sandbox.prepare import WEAK_KINDS, preload_modules, prepare
from agentlib.sandbox.seccomp import seccomp_program
from agentlib.sandbox.spares import Spares, Started, stop

HARNESS_DIR = Path(__file__).resolve().parent
SCRUBBED_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
SANDBOX_UIDS = range(200000, 300000)
"""The unprivileged uids test processes run as when agentlib runs as root."""
PACKAGES_DIR = "/packages"
SPARES = Spares()
"""Started bwrap sandboxes waiting for a job (see `spares`)."""


class SandboxWarning(UserWarning):
    """The sandbox runs with weaker isolation than bubblewrap gives."""


@dataclass(frozen=True)
class Limits:
    """Per-test resource limits, and what the sandboxed code may import."""

    timeout_s: float = 5.0
    cpu_s: float = 5.0
    memory_mb: int = 512
    file_mb: int = 16
    open_files: int = 64
    processes: int = 32
    disk_mb: int = 64
    """Size of the private /tmp and of the working directory, each (bubblewrap only)."""
    total_memory_mb: int | None = None
    """Resident memory of all a test's processes together (default: twice memory_mb);
    checked every 20 ms where the test has a uid or a PID namespace of its own."""
    allow_packages: tuple[str, ...] = ()
    """Installed top-level packages the code may import besides the standard library."""


@dataclass(frozen=True)
class Isolation:
    """The strongest isolation this machine offers, and why."""

    mode: str  # "bwrap" | "unshare" | "limits"
    reason: str


def _python() -> str:
    return os.path.realpath(sys.executable)


def _pick_uid() -> int:
    return SANDBOX_UIDS.start + secrets.randbelow(len(SANDBOX_UIDS))


def _read_only_paths() -> list[str]:
    paths = {"/usr", "/lib", "/lib64", "/bin", "/etc/alternatives", "/etc/ld.so.cache",
             sys.base_prefix, sysconfig.get_paths()["stdlib"]}
    paths = {p for p in paths if os.path.exists(p)}
    # drop paths inside another bound path: one bind covers them
    return sorted(p for p in paths
                  if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in paths))


def _hidden_paths() -> list[str]:
    """Directories inside the bound system that hold third-party packages: masked empty."""
    candidates = {sysconfig.get_paths(vars={"base": sys.base_prefix,
                                           "platbase": sys.base_prefix})["purelib"],
                  sysconfig.get_paths(vars={"base": sys.base_prefix,
                                           "platbase": sys.base_prefix})["platlib"]}
    return sorted(p for p in candidates if os.path.isdir(p))


def package_paths(names: tuple[str, ...]) -> dict[str, str]:
    """Map each allowed top-level package to the file or directory that holds it."""
    found: dict[str, str] = {}
    for name in names:
        if not name.isidentifier():
            raise SandboxError(f"allow_packages: {name!r} is not a top-level package name")
        spec = importlib.util.find_spec(name)
        if spec is None or (spec.origin in (None, "built-in", "frozen")
                            and not spec.submodule_search_locations):
            raise SandboxError(f"allow_packages: {name!r} is not installed for "
                               f"{sys.executable}; install it or remove it from the list")
        if spec.submodule_search_locations:
            found[name] = list(spec.submodule_search_locations)[0]
        else:
            found[name] = spec.origin
    return found


def _seccomp_fd() -> int | None:
    """Return the read end of a pipe holding the seccomp filter (None: no filter here)."""
    program = seccomp_program()
    if program is None:
        return None
    read, write = os.pipe()
    os.write(write, program)  # a few hundred bytes: fits the pipe's buffer
    os.close(write)
    return read


def _bwrap_args(limits: Limits, packages: dict[str, str], seccomp_fd: int | None) -> list[str]:
    args = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--cap-drop", "ALL", "--cap-add", "CAP_SETUID",
            "--cap-add", "CAP_SETGID", "--cap-add", "CAP_KILL", "--die-with-parent",
            "--new-session", "--clearenv"]
    made: set[str] = set()
    for path in _read_only_paths():
        for ancestor in reversed(Path(path).parents):  # world-readable mount points
            name = str(ancestor)
            if name != "/" and name not in made:
                args += ["--perms", "0755", "--dir", name]
                made.add(name)
        args += ["--ro-bind", path, path]
    for path in _hidden_paths():
        args += ["--tmpfs", path, "--remount-ro", path]
    if packages:
        args += ["--perms", "0755", "--dir", PACKAGES_DIR]
    for path in packages.values():
        target = f"{PACKAGES_DIR}/{os.path.basename(path)}"
        args += ["--ro-bind", path, target]
    size = str(int(limits.disk_mb) << 20)
    args += ["--ro-bind", str(HARNESS_DIR), "/harness", "--proc", "/proc", "--dev", "/dev",
             "--size", size, "--perms", "1777", "--tmpfs", "/tmp",
             "--size", size, "--perms", "1777", "--tmpfs", "/work", "--chdir", "/work"]
    for key, value in SCRUBBED_ENV.items():
        args += ["--setenv", key, value]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    return args


@lru_cache(maxsize=1)
def detect_isolation() -> Isolation:
    """Probe for the strongest isolation available (bwrap, then unshare, then limits only)."""
    if shutil.which("bwrap"):
        seccomp_fd = _seccomp_fd()
        try:
            probe = subprocess.run(
                _bwrap_args(Limits(), {}, seccomp_fd) + [_python(), "-I", "-S", "-c", "pass"],
                capture_output=True, timeout=30, pass_fds=() if seccomp_fd is None else (seccomp_fd,))
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
        if probe.returncode == 0:
            filtered = ", seccomp filter" if seccomp_program() else ", no seccomp filter"
            return Isolation("bwrap", "bubblewrap: private mount, PID and network namespaces"
                                      + filtered)
        why = probe.stderr.decode(errors="replace").strip()[:200]
        bwrap_problem = f"bwrap is installed but failed: {why}"
    else:
        bwrap_problem = "bwrap not found (install the 'bubblewrap' package)"
    if shutil.which("unshare") and os.geteuid() == 0:
        probe = subprocess.run(["unshare", "--net", "--pid", "--fork", "--kill-child", "true"],
                               capture_output=True, timeout=30)
        if probe.returncode == 0:
            return Isolation("unshare", f"{bwrap_problem}; using unshare: network and PID "
                                        "namespaces, but the host filesystem is visible")
    return Isolation("limits", f"{bwrap_problem}; no namespaces: process limits only, the "
                               "network and the host filesystem are reachable")


# The harness arrives compiled, ahead of the job, on its stdin: a script run as __main__ is
# compiled from source at every start (a few ms), and the sandbox cannot write a .pyc.
BOOT = "import marshal,sys;exec(marshal.loads(sys.stdin.buffer.read(int(sys.argv[2]))))"


@lru_cache(maxsize=2)
def _harness_code(filename: str) -> bytes:
    source = (HARNESS_DIR / "harness.py").read_text()
    return marshal.dumps(compile(source, filename, "exec", dont_inherit=True))


def _command(isolation: Isolation, limits: Limits, packages: dict[str, str],
             verdict_fd: int, code: bytes, seccomp_fd: int | None) -> list[str]:
    inner = [_python(), "-I", "-S", "-c", BOOT, str(verdict_fd), str(len(code))]
    if isolation.mode == "bwrap":
        return _bwrap_args(limits, packages, seccomp_fd) + inner
    if isolation.mode == "unshare":
        return ["unshare", "--net", "--pid", "--fork", "--kill-child"] + inner
    return inner


def _drain(stream, sink: list[bytes], limit: int = 1 << 16) -> None:
    size = 0
    for chunk in iter(lambda: stream.read(4096), b""):
        if size < limit:
            sink.append(chunk)
            size += len(chunk)


def _remove_tree(path: str) -> None:
    def fix(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=fix)


def _ended(results: list[TestResult]) -> str:
    kinds = {r.error_type for r in results}
    for error, ended in (("IsolationError", "isolation-error"), ("HarnessError", "killed"),
                         ("Timeout", "timeout"), ("CPUTimeExceeded", "timeout"),
                         ("MemoryError", "memory"), ("MemoryLimitExceeded", "memory"),
                         ("Crashed", "crashed"),
                         ("NoResult", "crashed")):
        if error in kinds:
            return ended
    return "ok"


def _host_workdir(uid: int | None, packages: dict[str, str]) -> tuple[str, list[str]]:
    """Make the working directory for the modes without a private mount namespace."""
    workdir = tempfile.mkdtemp(prefix="agentlib-sbx-")
    paths = []
    if packages:
        links = os.path.join(workdir, ".packages")
        os.mkdir(links)
        for path in packages.values():
            os.symlink(path, os.path.join(links, os.path.basename(path)))
        paths.append(links)
    if uid is not None:
        os.chown(workdir, uid, 0)  # the harness (root without CAP_DAC_OVERRIDE) uses the group
        os.chmod(workdir, 0o770)
    return workdir, paths


def _detail(isolation: Isolation, cases: list[dict]) -> str:
    notes = []
    if isolation.mode != "bwrap":
        notes.append(f"WARNING: weaker isolation ({isolation.mode}): {isolation.reason}")
    weak = sum(case["kind"] in WEAK_KINDS for case in cases)
    if weak:
        notes.append(f"{weak} test(s) are not a single assert or expression; they ran whole in "
                     "the test process, which reported its own success (weaker evidence)")
    return "; ".join(notes)


def _spawn(isolation: Isolation, limits: Limits, packages: dict[str, str],
           workdir: str | None) -> Started:
    """Start a sandbox and hand it the compiled harness; it then waits for its job."""
    code = _harness_code("/harness/harness.py" if isolation.mode == "bwrap"
                         else str(HARNESS_DIR / "harness.py"))
    seccomp_fd = _seccomp_fd() if isolation.mode == "bwrap" else None
    verdict_r, verdict_w = os.pipe()
    passed = (verdict_w,) if seccomp_fd is None else (verdict_w, seccomp_fd)
    try:
        proc = subprocess.Popen(
            _command(isolation, limits, packages, verdict_w, code, seccomp_fd),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=passed, cwd=workdir or "/", env=dict(SCRUBBED_ENV),
            start_new_session=True)
    except OSError as exc:
        os.close(verdict_r)
        raise SandboxError(f"could not start the sandbox ({isolation.mode}): {exc}") from exc
    finally:
        for fd in passed:
            os.close(fd)
    try:
        proc.stdin.write(code)  # smaller than a pipe's buffer: never blocks
        proc.stdin.flush()
    except BrokenPipeError:
        pass
    return Started(proc, verdict_r, workdir)


def _start(isolation: Isolation, limits: Limits, packages: dict[str, str],
           uid: int | None) -> tuple[Started, list[str]]:
    """Take a spare bwrap sandbox (and order its replacement), or start one now."""
    if isolation.mode != "bwrap":
        workdir, paths = _host_workdir(uid, packages)
        try:
            return _spawn(isolation, limits, packages, workdir), paths
        except SandboxError:
            _remove_tree(workdir)
            raise
    key = (isolation, int(limits.disk_mb), tuple(sorted(packages.items())))
    started = SPARES.take(key)
    SPARES.request(key, lambda: _spawn(isolation, limits, packages, None))
    return started or _spawn(isolation, limits, packages, None), [PACKAGES_DIR] if packages else []


def run(program: str, tests: list[TestCase], limits: Limits | None = None,
        isolation: Isolation | None = None) -> Verdict:
    """Run `program` against `tests` in a fresh isolated process and return the Verdict."""
    limits = limits or Limits()
    isolation = isolation or detect_isolation()
    if not tests:
        raise SandboxError("no tests to run: a program is only verified against tests")
    if isolation.mode not in ("bwrap", "unshare", "limits"):
        raise SandboxError(f"unknown isolation mode {isolation.mode!r}")
    if isolation.mode != "bwrap":
        warnings.warn(f"sandbox isolation is {isolation.mode}, not bubblewrap: "
                      f"{isolation.reason}", SandboxWarning, stacklevel=2)
    cases, syntax_error = prepare(program, tests)
    packages = package_paths(tuple(limits.allow_packages))
    preload = preload_modules(program, cases, packages) if syntax_error is None else []
    uid = _pick_uid() if os.geteuid() == 0 else None
    started, paths = _start(isolation, limits, packages, uid)
    try:
        job = json.dumps({"program": program, "cases": cases, "syntax_error": syntax_error,
                          "limits": asdict(limits), "uid": uid, "paths": paths,
                          "preload": preload,
                          "private_pids": isolation.mode in ("bwrap", "unshare")}).encode()
    except BaseException:
        stop(started)
        if started.workdir:
            _remove_tree(started.workdir)
        raise
    proc = started.proc
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [threading.Thread(target=_drain, args=(proc.stdout, out), daemon=True),
               threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True)]
    for reader in readers:
        reader.start()
    start = time.monotonic()
    deadline = start + len(tests) * (limits.timeout_s + 1.0) + 20.0
    try:
        try:
            proc.stdin.write(job)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        data = _read_all(started.verdict_r, deadline)
    finally:
        stop(started)
        for reader in readers:
            reader.join(timeout=5)
        if started.workdir:
            _remove_tree(started.workdir)
    wall = time.monotonic() - start
    if data is None:
        return Verdict(results=[], ended="killed", wall_s=wall, isolation=isolation.mode,
                       detail="the sandbox exceeded its overall deadline and was killed")
    try:
        payload = json.loads(data[4:]) if len(data) >= 4 else None
    except ValueError:
        payload = None
    if not payload:
        detail = b"".join(err).decode(errors="replace")[-2000:]
        return Verdict(results=[], ended="isolation-error", wall_s=wall,
                       isolation=isolation.mode,
                       detail=f"the harness ended without a verdict (exit {proc.returncode}). "
                              f"{detail}".strip())
    known = {f.name for f in fields(TestResult)}
    results = [TestResult(**{k: v for k, v in r.items() if k in known}) for r in payload["results"]]
    return Verdict(results=results, ended=_ended(results), wall_s=wall,
                   isolation=isolation.mode, detail=_detail(isolation, cases))


def _read_all(fd: int, deadline: float) -> bytes | None:
    # poll, not select: select() refuses descriptor numbers of 1024 and more, which a
    # long-lived process (a batch, the REPL, a test session) reaches.
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready = poller.poll(remaining * 1000)
        if ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                data = b"".join(chunks)
                if len(data) >= 4 and len(data) >= 4 + struct.unpack(">I", data[:4])[0]:
                    return data
                return b""
            chunks.append(chunk)
