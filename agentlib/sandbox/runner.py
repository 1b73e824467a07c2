"""Run untrusted programs against tests in an isolated child process.

The full policy — each bound, how it is enforced, what it does not cover — is docs/sandbox.md.
In short, with bubblewrap (the mode used when `bwrap` works; `detect_isolation` says which mode
applies and which bounds are in force):

Protected: the host's files (read-only system, private size- and file-count-watched /tmp and
/work, nothing else mounted, host paths kept out of /proc); the network (empty network
namespace; seccomp allows only AF_UNIX, AF_INET and AF_INET6 sockets); other processes (PID
namespace, an unprivileged uid per run so RLIMIT_NPROC caps fork bombs, every process of that
uid killed by the zygote — which the test cannot signal — after each test); memory (limits per
test process, a 20 ms watch on the resident memory of all of a test's processes, and a memory
and pids cgroup for the whole run where the host allows one); a seccomp filter against user
namespaces, memfd, SysV IPC, inotify and other risky kernel interfaces; secrets in the
environment (scrubbed, `python -I -S`); forged results (only calls of the program's own
functions run in the test process; the harness judges everything else with the real objects,
from plain built-in values checked against the channel's schema; a program that rebinds a
name the test uses is refused).

Not protected: kernel or bubblewrap exploits, side channels, memory bursts faster than the
20 ms watch where there is no cgroup, tests that are several statements (the child reports its
own success; the verdict's detail counts them), a program that knows and returns the expected
outputs (see `static.special_cases_tests`), and — without bubblewrap — the filesystem and the
network (a SandboxWarning says so).
"""

from __future__ import annotations

import json
import marshal
import os
import secrets
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from agentlib.errors import SandboxError
from agentlib.model import TestCase, TestResult, Verdict
from agentlib.sandbox import kinds
from agentlib.sandbox.cgroup import RunCgroup, cgroup_host, process_tree
from agentlib.sandbox.harness import KILL_GRACE_S, READY
from agentlib.sandbox.isolation import (
    PACKAGES_DIR,
    SCRUBBED_ENV,
    Isolation,
    args_fd,
    bwrap_options,
    detect_isolation,
    package_paths,
    python,
    seccomp_fd,
)
from agentlib.sandbox.prepare import WEAK_KINDS, PreparedCase, preload_modules, prepare
from agentlib.sandbox.spares import Spares, Started, stop
from agentlib.sandbox.verdict import PER_TEST_BYTES, clean, read_verdict, results_from

__all__ = ["Isolation", "Limits", "SandboxWarning", "detect_isolation", "run"]

HARNESS_DIR = Path(__file__).resolve().parent
HARNESS_PARTS = ("kinds", "channel", "child", "zygote", "harness")
"""The modules that make up the in-sandbox harness, in the order they are loaded."""
SANDBOX_UIDS = range(200000, 300000)
"""The unprivileged uids test processes run as when agentlib runs as root."""
RUN_RESERVE_MB = 256
"""The run's memory bound beyond its tests: the harness, the zygote, bwrap, kernel memory."""
SPARES = Spares()
"""Started sandboxes waiting for a job (see `spares`)."""


class SandboxWarning(UserWarning):
    """The sandbox runs with weaker isolation than bubblewrap gives."""


@dataclass(frozen=True)
class Limits:
    """Per-test resource limits, the run's bounds, and what the sandboxed code may import."""

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
    disk_files: int = 16384
    """Files, directories and links on the private /tmp and /work together (bubblewrap only;
    counted every 20 ms)."""
    run_memory_mb: int | None = None
    """Memory of the whole run — processes, tmpfs files, kernel memory, the harness — enforced
    by a cgroup where the host allows one (default: total memory + both tmpfs + 256 MB)."""

    def run_memory_bytes(self) -> int:
        """The run's cgroup memory bound, in bytes."""
        if self.run_memory_mb is not None:
            return int(self.run_memory_mb) << 20
        total = self.total_memory_mb or 2 * self.memory_mb
        return (int(total) + 2 * int(self.disk_mb) + RUN_RESERVE_MB) << 20


def _pick_uid() -> int:
    return SANDBOX_UIDS.start + secrets.randbelow(len(SANDBOX_UIDS))


# The harness arrives compiled, ahead of the job, on its stdin: a script run as __main__ is
# compiled from source at every start (a few ms), and the sandbox cannot write a .pyc. Each
# part is registered under its own module name, so the parts import each other as usual.
BOOT = ("import marshal,sys\nM=type(sys)\n"
        "for n,f,c in marshal.loads(sys.stdin.buffer.read(int(sys.argv[2]))):\n"
        " m=sys.modules[n]=M(n);m.__file__=f;exec(c,m.__dict__)\n"
        "m.main()")


@lru_cache(maxsize=1)
def _harness_code() -> bytes:
    parts = []
    for part in HARNESS_PARTS:
        source = (HARNESS_DIR / f"{part}.py").read_text()
        name = f"sandbox/{part}.py"  # no host path: tracebacks reach the test's output
        parts.append((f"agentlib.sandbox.{part}", name,
                      compile(source, name, "exec", dont_inherit=True)))
    return marshal.dumps(parts)


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


def _detail(isolation: Isolation, cases: list[PreparedCase]) -> str:
    notes = []
    if isolation.mode != "bwrap":
        notes.append(f"WARNING: weaker isolation ({isolation.mode}): {isolation.reason}")
    weak = sum(case.kind in WEAK_KINDS and not case.refused for case in cases)
    if weak:
        notes.append(f"{weak} test(s) are not a single assert or expression; they ran whole in "
                     "the test process, which reported its own success (weaker evidence)")
    return "; ".join(notes)


def _command(isolation: Isolation, options: int | None, code: bytes, verdict_fd: int) -> list[str]:
    inner = [python(), "-I", "-S", "-c", BOOT, str(verdict_fd), str(len(code))]
    if isolation.mode == "bwrap":
        return ["bwrap", "--args", str(options)] + inner
    if isolation.mode == "unshare":
        return ["unshare", "--net", "--pid", "--fork", "--kill-child"] + inner
    return inner


def _wait_ready(started: Started, timeout: float = 30.0) -> None:
    """Wait until the harness has forked its zygote (it then writes READY on its verdict pipe).

    Once it has, the sandbox's processes can be moved into the run's cgroup: everything the
    sandbox starts later — every test process — is forked from them, so is born inside it.
    """
    poller = select.poll()
    poller.register(started.verdict_r, select.POLLIN)
    if poller.poll(timeout * 1000) and os.read(started.verdict_r, 1) == READY:
        started.ready = True
        return
    try:  # dead or hung: kill it, then its stderr says why
        os.killpg(started.proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    why = started.proc.stderr.read(2000) if started.proc.stderr else b""
    stop(started)
    raise SandboxError(f"the sandbox did not start: {why.decode(errors='replace').strip()}")


def _spawn(isolation: Isolation, disk_mb: int, packages: dict[str, str],
           workdir: str | None) -> Started:
    """Start a sandbox and hand it the compiled harness; it then waits for its job."""
    code = _harness_code()
    host = cgroup_host()
    cgroup = RunCgroup(host) if host.version else None
    opened: list[int] = []
    try:
        oom = cgroup.open_oom_counter() if cgroup else None
        opened += [] if oom is None else [oom]
        if isolation.mode == "bwrap":
            seccomp = seccomp_fd()
            opened += [] if seccomp is None else [seccomp]
            options = args_fd(bwrap_options(disk_mb, packages, seccomp))
            opened.append(options)
        else:
            options = None
        verdict_r, verdict_w = os.pipe()
        opened.append(verdict_w)
        try:
            proc = subprocess.Popen(
                _command(isolation, options, code, verdict_w), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=tuple(opened),
                cwd=workdir or "/", env=dict(SCRUBBED_ENV), start_new_session=True)
        except OSError as exc:
            os.close(verdict_r)
            raise SandboxError(f"could not start the sandbox ({isolation.mode}): {exc}") from exc
    except BaseException:
        if cgroup is not None:
            cgroup.remove()
        raise
    finally:
        for fd in opened:
            os.close(fd)
    started = Started(proc, verdict_r, workdir, cgroup=cgroup, oom_fd=oom)
    try:
        proc.stdin.write(code)  # smaller than a pipe's buffer: never blocks
        proc.stdin.flush()
    except BrokenPipeError:
        pass
    if cgroup is not None:
        _wait_ready(started)
        try:
            cgroup.join(process_tree(proc.pid))
        except OSError as exc:
            stop(started)
            raise SandboxError(f"could not move the sandbox into its cgroup: {exc}") from exc
    return started


def _start(isolation: Isolation, limits: Limits, packages: dict[str, str],
           uid: int | None) -> tuple[Started, list[str]]:
    """Take a spare bwrap sandbox (and order its replacement), or start one now."""
    if isolation.mode != "bwrap":
        workdir, paths = _host_workdir(uid, packages)
        try:
            return _spawn(isolation, limits.disk_mb, packages, workdir), paths
        except SandboxError:
            _remove_tree(workdir)
            raise
    key = (isolation, int(limits.disk_mb), tuple(sorted(packages.items())))
    started = SPARES.take(key)
    SPARES.request(key, lambda: _spawn(isolation, limits.disk_mb, packages, None))
    return (started or _spawn(isolation, limits.disk_mb, packages, None),
            [PACKAGES_DIR] if packages else [])


def _fixed_result(case: PreparedCase, syntax_error: str | None) -> TestResult | None:
    """The result of a test the program is not run against, or None when it is run."""
    if syntax_error is not None:
        return TestResult(case.test, False, "SyntaxError",
                          clean(f"the program does not parse ({syntax_error})", 4000))
    if case.refused:
        return TestResult(case.test, False, "ShadowedName", clean(case.refused, 4000))
    return None


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
    results: list[TestResult | None] = [_fixed_result(c, syntax_error) for c in cases]
    runnable = [c for c, r in zip(cases, results, strict=True) if r is None]
    start = time.monotonic()
    if runnable:
        got = _run_cases(program, runnable, limits, isolation)
        if isinstance(got, Verdict):
            return got
        slots = iter(got)
        results = [r if r is not None else next(slots) for r in results]
    done = [r for r in results if r is not None]
    return Verdict(results=done, ended=kinds.ended(r.error_type for r in done),
                   wall_s=time.monotonic() - start, isolation=isolation.mode,
                   detail=_detail(isolation, cases))


def _run_cases(program: str, cases: list[PreparedCase], limits: Limits,
               isolation: Isolation) -> list[TestResult] | Verdict:
    """Run the cases in one sandbox; their results, or a Verdict when the run itself failed."""
    packages = package_paths(tuple(limits.allow_packages))
    preload = preload_modules(program, cases, packages)
    uid = _pick_uid() if os.geteuid() == 0 else None
    started, paths = _start(isolation, limits, packages, uid)
    try:
        if started.cgroup is not None:
            started.cgroup.limit(limits.run_memory_bytes(), int(limits.processes) + 16)
        job = json.dumps({"program": program, "cases": [c.wire() for c in cases],
                          "limits": asdict(limits), "uid": uid, "paths": paths,
                          "preload": preload, "oom_fd": started.oom_fd,
                          "private_pids": isolation.mode in ("bwrap", "unshare"),
                          "private_tmpfs": isolation.mode == "bwrap"}).encode()
    except BaseException as exc:
        stop(started)
        if started.workdir:
            _remove_tree(started.workdir)
        if isinstance(exc, OSError):
            raise SandboxError(f"could not set the run's cgroup bounds: {exc}") from exc
        raise
    proc = started.proc
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [threading.Thread(target=_drain, args=(proc.stdout, out), daemon=True),
               threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True)]
    for reader in readers:
        reader.start()
    start = time.monotonic()
    per_test = 2 * float(limits.timeout_s) + KILL_GRACE_S + 1.0  # running, then judging
    deadline = start + len(cases) * per_test + 20.0
    try:
        try:
            proc.stdin.write(job)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        status, data = read_verdict(started.verdict_r, deadline,
                                    len(cases) * PER_TEST_BYTES + (1 << 16), not started.ready)
    finally:
        stop(started)
        for reader in readers:
            reader.join(timeout=5)
        if started.workdir:
            _remove_tree(started.workdir)
    wall = time.monotonic() - start
    if status == "timeout":
        return Verdict(results=[], ended="killed", wall_s=wall, isolation=isolation.mode,
                       detail="the sandbox exceeded its overall deadline and was killed")
    got = results_from(data, [c.test for c in cases]) if status == "ok" else (
        "the harness's verdict is larger than its size limit" if status == "too-large"
        else f"the harness ended without a verdict (exit {proc.returncode})")
    if isinstance(got, str):
        stderr = clean(b"".join(err).decode(errors="replace")[-2000:], 2000)
        return Verdict(results=[], ended="isolation-error", wall_s=wall,
                       isolation=isolation.mode, detail=f"{got}. {stderr}".strip())
    return got
