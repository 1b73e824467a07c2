"""Which isolation this machine gives a sandbox run, which bounds are in force, and bwrap's
command line."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from agentlib.errors import SandboxError
from agentlib.sandbox.cgroup import cgroup_host
from agentlib.sandbox.seccomp import seccomp_program

SCRUBBED_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
PACKAGES_DIR = "/packages"
MASKED = ("/proc/cmdline",)
"""Host facts inside /proc that the sandbox sees as empty files."""


@dataclass(frozen=True)
class Bound:
    """One of the sandbox's bounds: whether it is in force on this machine, and how."""

    name: str
    in_force: bool
    how: str


@dataclass(frozen=True)
class Isolation:
    """The strongest isolation this machine offers, why, and which bounds are in force."""

    mode: str  # "bwrap" | "unshare" | "limits"
    reason: str
    bounds: tuple[Bound, ...] = ()


def python() -> str:
    """The real path of the interpreter the sandbox runs."""
    return os.path.realpath(sys.executable)


def _read_only_paths() -> list[str]:
    paths = {"/usr", "/lib", "/lib64", "/bin", "/etc/alternatives", "/etc/ld.so.cache",
             sys.base_prefix, sysconfig.get_paths()["stdlib"]}
    paths = {p for p in paths if os.path.exists(p)}
    # drop paths inside another bound path: one bind covers them
    return sorted(p for p in paths
                  if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in paths))


def _hidden_paths() -> list[str]:
    """Directories inside the bound system that hold third-party packages: masked empty."""
    where = {"base": sys.base_prefix, "platbase": sys.base_prefix}
    candidates = {sysconfig.get_paths(vars=where)["purelib"],
                  sysconfig.get_paths(vars=where)["platlib"]}
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


def seccomp_fd() -> int | None:
    """Return the read end of a pipe holding the seccomp filter (None: no filter here)."""
    program = seccomp_program()
    if program is None:
        return None
    read, write = os.pipe()
    os.write(write, program)  # a few hundred bytes: fits the pipe's buffer
    os.close(write)
    return read


def args_fd(args: list[str]) -> int:
    """Return the read end of a pipe holding bwrap's options for `bwrap --args FD`.

    Passed this way, they are not on bwrap's command line, which the sandbox can read as
    /proc/1/cmdline (its init is bwrap): the host paths of allowed packages stay out of sight.
    """
    data = b"".join(a.encode() + b"\0" for a in args)
    read, write = os.pipe()
    try:
        os.write(write, data)  # a few kB: fits the pipe's buffer
    finally:
        os.close(write)
    return read


def bwrap_options(disk_mb: int, packages: dict[str, str], seccomp: int | None) -> list[str]:
    """bwrap's options (everything before the command) for one sandbox."""
    args = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--hostname", "sandbox", "--cap-drop", "ALL",
            "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_KILL",
            "--die-with-parent", "--new-session", "--clearenv"]
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
        args += ["--ro-bind", path, f"{PACKAGES_DIR}/{os.path.basename(path)}"]
    size = str(int(disk_mb) << 20)
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", size, "--perms", "1777", "--tmpfs", "/tmp",
             "--size", size, "--perms", "1777", "--tmpfs", "/work", "--chdir", "/work"]
    for path in MASKED:
        args += ["--ro-bind", "/dev/null", path]
    for key, value in SCRUBBED_ENV.items():
        args += ["--setenv", key, value]
    if seccomp is not None:
        args += ["--seccomp", str(seccomp)]
    return args


def _bounds(mode: str, root: bool) -> tuple[Bound, ...]:
    from agentlib.sandbox.channel import MAX_ITEMS, MAX_MESSAGE
    from agentlib.sandbox.zygote import TRUSTED_MEMORY_MB

    host = cgroup_host()
    filtered = mode == "bwrap" and seccomp_program() is not None
    no_filter = "no seccomp filter (not bwrap, or an architecture without one)"
    watch = mode in ("bwrap", "unshare") or root
    return (
        Bound("run memory", host.version > 0,
              f"cgroup v{host.version} memory limit (Limits.run_memory_mb) under {host.memory}"
              if host.version else f"{host.reason}: the run as a whole is not bounded"),
        Bound("run processes", bool(host.pids),
              f"cgroup v{host.version} pids.max under {host.pids}" if host.pids
              else "no pids cgroup: processes are bounded per uid (RLIMIT_NPROC) only"),
        Bound("test memory watch", watch,
              "resident memory of all a test's processes, zombie leaders included, every 20 ms"
              if watch else "no uid and no PID namespace of its own to watch by"),
        Bound("tmpfs files", mode == "bwrap",
              "files on the private /tmp and /work counted every 20 ms (Limits.disk_files); "
              "bwrap cannot set nr_inodes" if mode == "bwrap" else "no private tmpfs"),
        Bound("SysV IPC and inotify", filtered,
              "refused by seccomp, in a private IPC namespace" if filtered else no_filter),
        Bound("socket families", filtered,
              "seccomp allows AF_UNIX, AF_INET and AF_INET6 only" if filtered else no_filter),
        Bound("kill guarantee", root,
              "the zygote, under a uid the test cannot signal, kills the test's processes by pid"
              if root else "same uid as the test: killed by process group and PID-namespace "
                           "sweep, and the test can stop the zygote"),
        Bound("trusted harness", True,
              f"address space {TRUSTED_MEMORY_MB} MB, judging within the test's timeout_s, "
              f"results of at most {MAX_MESSAGE >> 20} MB, ranges of at most {MAX_ITEMS} items"),
    )


@lru_cache(maxsize=1)
def detect_isolation() -> Isolation:
    """Probe for the strongest isolation available (bwrap, then unshare, then limits only)."""
    root = os.geteuid() == 0
    if shutil.which("bwrap"):
        seccomp = seccomp_fd()
        options = args_fd(bwrap_options(64, {}, seccomp))
        passed = (options,) if seccomp is None else (options, seccomp)
        try:
            probe = subprocess.run(["bwrap", "--args", str(options), python(), "-I", "-S", "-c",
                                    "pass"], capture_output=True, timeout=30, pass_fds=passed)
        finally:
            for fd in passed:
                os.close(fd)
        if probe.returncode == 0:
            filtered = ", seccomp filter" if seccomp_program() else ", no seccomp filter"
            return Isolation("bwrap", "bubblewrap: private mount, PID and network namespaces"
                                      + filtered, _bounds("bwrap", root))
        why = probe.stderr.decode(errors="replace").strip()[:200]
        bwrap_problem = f"bwrap is installed but failed: {why}"
    else:
        bwrap_problem = "bwrap not found (install the 'bubblewrap' package)"
    if shutil.which("unshare") and root:
        probe = subprocess.run(["unshare", "--net", "--pid", "--fork", "--kill-child", "true"],
                               capture_output=True, timeout=30)
        if probe.returncode == 0:
            return Isolation("unshare", f"{bwrap_problem}; using unshare: network and PID "
                                        "namespaces, but the host filesystem is visible",
                             _bounds("unshare", root))
    return Isolation("limits", f"{bwrap_problem}; no namespaces: process limits only, the "
                               "network and the host filesystem are reachable",
                     _bounds("limits", root))
