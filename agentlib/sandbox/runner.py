"""Run untrusted programs against tests in an isolated child process.

What the sandbox protects against (with bubblewrap, the mode used when `bwrap` works):
- reading or writing the host's files: the child sees a read-only system (/usr, /lib, the
  Python install), an empty private /tmp and its own working directory, deleted afterwards;
  the agentlib process, the library store and the user's home are not mounted;
- the network: a new, empty network namespace (no interface but a down loopback);
- other processes: a new PID namespace, `--die-with-parent`, its own session; every test
  runs in a fresh forked process that drops to a random unprivileged uid (when agentlib runs
  as root), so RLIMIT_NPROC contains fork bombs and leftover processes of that uid are killed;
- resource exhaustion: rlimits on address space, CPU seconds, file size, open files and
  processes, plus a wall-clock timeout per test that kills the test's process group;
- forged results: assert tests are judged in the harness from plain built-in values that the
  child sends (see `harness.py`); printing, exiting early, closing or writing descriptors,
  patching functions or raising BaseException cannot turn a failing assert into a pass;
- secrets in the environment: the child gets a scrubbed environment and `python -I -S`.

What it does not protect against: kernel or bubblewrap exploits, CPU side channels, a test
that is not a single `assert` statement (the child reports its own success there), and —
without bubblewrap — the filesystem and network (a warning says so). Code that special-cases
literal test inputs is the agent's check, not the sandbox's.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import signal
import struct
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from agentlib.errors import SandboxError
from agentlib.model import TestCase, TestResult, Verdict

HARNESS_DIR = Path(__file__).resolve().parent
SCRUBBED_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}


@dataclass(frozen=True)
class Limits:
    """Per-test resource limits."""

    timeout_s: float = 5.0
    cpu_s: float = 5.0
    memory_mb: int = 512
    file_mb: int = 16
    open_files: int = 64
    processes: int = 32


@dataclass(frozen=True)
class Isolation:
    """The strongest isolation this machine offers, and why."""

    mode: str  # "bwrap" | "unshare" | "limits"
    reason: str


def _python() -> str:
    return os.path.realpath(sys.executable)


def _read_only_paths() -> list[str]:
    paths = {"/usr", "/lib", "/lib64", "/bin", "/etc/alternatives", "/etc/ld.so.cache",
             sys.base_prefix, sysconfig.get_paths()["stdlib"]}
    return sorted(p for p in paths if os.path.exists(p))


def _bwrap_args(workdir: str) -> list[str]:
    args = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--cap-drop", "ALL", "--cap-add", "CAP_SETUID",
            "--cap-add", "CAP_SETGID", "--cap-add", "CAP_KILL", "--die-with-parent", "--new-session", "--clearenv"]
    made: set[str] = set()
    for path in _read_only_paths():
        parent = Path(path).parent
        ancestors = [a for a in reversed(parent.parents) if str(a) != "/"] + [parent]
        for ancestor in ancestors:
            name = str(ancestor)
            if name != "/" and name not in made:
                args += ["--perms", "0755", "--dir", name]
                made.add(name)
        args += ["--ro-bind", path, path]
    args += ["--ro-bind", str(HARNESS_DIR), "/harness", "--proc", "/proc", "--dev", "/dev",
             "--tmpfs", "/tmp", "--bind", workdir, "/work", "--chdir", "/work"]
    for key, value in SCRUBBED_ENV.items():
        args += ["--setenv", key, value]
    return args


@lru_cache(maxsize=1)
def detect_isolation() -> Isolation:
    """Probe for the strongest isolation available (bwrap, then unshare, then limits only)."""
    if shutil.which("bwrap"):
        with tempfile.TemporaryDirectory(prefix="agentlib-probe-") as tmp:
            probe = subprocess.run(_bwrap_args(tmp) + [_python(), "-I", "-S", "-c", "pass"],
                                   capture_output=True, timeout=30)
        if probe.returncode == 0:
            return Isolation("bwrap", "bubblewrap: private mount, PID and network namespaces")
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


def _command(isolation: Isolation, workdir: str, verdict_fd: int) -> list[str]:
    inner = [_python(), "-I", "-S"]
    if isolation.mode == "bwrap":
        return _bwrap_args(workdir) + inner + ["/harness/harness.py", str(verdict_fd)]
    harness = [str(HARNESS_DIR / "harness.py"), str(verdict_fd)]
    if isolation.mode == "unshare":
        return ["unshare", "--net", "--pid", "--fork", "--kill-child"] + inner + harness
    return inner + harness


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
                         ("Timeout", "timeout"),
                         ("CPUTimeExceeded", "timeout"), ("MemoryError", "memory"),
                         ("Crashed", "crashed")):
        if error in kinds:
            return ended
    return "ok"


def run(program: str, tests: list[TestCase], limits: Limits | None = None,
        isolation: Isolation | None = None) -> Verdict:
    """Run `program` against `tests` in a fresh isolated process and return the Verdict."""
    limits = limits or Limits()
    isolation = isolation or detect_isolation()
    if not tests:
        raise SandboxError("no tests to run: a program is only verified against tests")
    root = os.geteuid() == 0
    uid = 200000 + secrets.randbelow(100000) if root else None
    workdir = tempfile.mkdtemp(prefix="agentlib-sbx-")
    if uid is not None:
        os.chown(workdir, uid, 0)  # the harness (root without CAP_DAC_OVERRIDE) uses the group
        os.chmod(workdir, 0o770)
    job = json.dumps({"program": program, "tests": [asdict(t) for t in tests],
                      "limits": asdict(limits), "uid": uid}).encode()
    verdict_r, verdict_w = os.pipe()
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            _command(isolation, workdir, verdict_w), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(verdict_w,),
            cwd=workdir, env=dict(SCRUBBED_ENV), start_new_session=True)
    except OSError as exc:
        os.close(verdict_r)
        os.close(verdict_w)
        _remove_tree(workdir)
        raise SandboxError(f"could not start the sandbox ({isolation.mode}): {exc}") from exc
    os.close(verdict_w)
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [threading.Thread(target=_drain, args=(proc.stdout, out), daemon=True),
               threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True)]
    for reader in readers:
        reader.start()
    deadline = start + len(tests) * (limits.timeout_s + 1.0) + 20.0
    try:
        try:
            proc.stdin.write(job)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        data = _read_all(verdict_r, deadline)
    finally:
        os.close(verdict_r)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        for reader in readers:
            reader.join(timeout=5)
        _remove_tree(workdir)
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
    results = [TestResult(**r) for r in payload["results"]]
    return Verdict(results=results, ended=_ended(results), wall_s=wall,
                   isolation=isolation.mode)


def _read_all(fd: int, deadline: float) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                data = b"".join(chunks)
                if len(data) >= 4 and len(data) >= 4 + struct.unpack(">I", data[:4])[0]:
                    return data
                return b""
            chunks.append(chunk)
