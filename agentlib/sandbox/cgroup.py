"""A memory and pids cgroup for each sandbox run, where the host lets agentlib create one.

The cgroup is the run's hard bound: everything its processes hold — their memory, files on
the private tmpfs, kernel memory (inodes, pipes), the trusted harness's own — counts against
one limit, and the kernel's OOM killer acts inside it (test processes first: they raise their
`oom_score_adj`). cgroup v1 (the `memory` and `pids` hierarchies) and v2 (a delegated cgroup
with both controllers in its `cgroup.subtree_control`) are supported; the run's cgroups are
made below the cgroup agentlib itself runs in, named `agentlib-sbx-<random>` (the name is the
one thing of the host the sandbox sees in /proc/self/cgroup), and removed after the run; empty
ones older than `STALE_S`, left by a killed agentlib, are removed by the next.
"""

from __future__ import annotations

import atexit
import os
import secrets
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

PREFIX = "agentlib-sbx-"
STALE_S = 120.0
"""An empty run cgroup this old was left by an agentlib that died (a new one is joined at once)."""
_PENDING: list[str] = []  # run cgroups whose processes had not all exited at removal
_MADE: set[str] = set()  # run cgroups this process made and has not removed yet
_LOCK = threading.Lock()
_CLEANUP = []  # holds True once the exit cleanup is registered


@dataclass(frozen=True)
class CgroupHost:
    """Where this host lets agentlib make run cgroups, or why it does not."""

    version: int  # 1 or 2; 0: no cgroup
    memory: str  # the parent directory of run cgroups for memory (v2: for both)
    pids: str  # the parent directory for pids ("" where there is none)
    reason: str


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(fstype, mount root, mount point, super options) of every cgroup mount."""
    found = []
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                fields, extra = left.split(), right.split()
                if len(fields) >= 5 and len(extra) >= 3 and extra[0] in ("cgroup", "cgroup2"):
                    found.append((extra[0], fields[3], fields[4], set(extra[2].split(","))))
    except OSError:
        pass
    return found


def _own_cgroups() -> dict[str, str]:
    """Map each controller (and "" for v2) to the cgroup path this process is in."""
    paths = {}
    try:
        with open("/proc/self/cgroup") as fh:
            for line in fh:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for controller in controllers.split(",") if controllers else [""]:
                    paths[controller] = path
    except (OSError, ValueError):
        pass
    return paths


def _directory(root: str, point: str, path: str) -> str:
    relative = path[len(root):] if path.startswith(root) and root != "/" else path
    return os.path.join(point, relative.lstrip("/"))


def _probe(parent: str, needed: str) -> str | None:
    """Make and remove a cgroup under `parent`; None if that works, else why not."""
    probe = os.path.join(parent, f"{PREFIX}probe-{secrets.token_hex(6)}")
    try:
        os.mkdir(probe)
    except FileExistsError:
        pass
    except OSError as exc:
        return f"cannot create a cgroup under {parent}: {exc.strerror}"
    try:
        if not os.path.exists(os.path.join(probe, needed)):
            return f"a cgroup under {parent} has no {needed}"
        return None
    finally:
        try:
            os.rmdir(probe)
        except OSError:
            pass


def _v1() -> CgroupHost | str:
    own = _own_cgroups()
    dirs = {}
    for fstype, root, point, options in _mounts():
        for controller in ("memory", "pids"):
            if fstype == "cgroup" and controller in options and controller in own:
                dirs[controller] = _directory(root, point, own[controller])
    if "memory" not in dirs:
        return "no cgroup v1 memory hierarchy"
    why = _probe(dirs["memory"], "memory.limit_in_bytes")
    if why:
        return why
    pids = dirs.get("pids", "")
    if pids and _probe(pids, "pids.max"):
        pids = ""
    return CgroupHost(1, dirs["memory"], pids, f"cgroup v1 memory{' and pids' if pids else ''} "
                                                f"under {dirs['memory']}")


def _v2() -> CgroupHost | str:
    own = _own_cgroups().get("")
    mount = next(((r, p) for t, r, p, _ in _mounts() if t == "cgroup2"), None)
    if own is None or mount is None:
        return "no cgroup v2 hierarchy"
    parent = _directory(mount[0], mount[1], own)
    try:
        with open(os.path.join(parent, "cgroup.subtree_control")) as fh:
            enabled = set(fh.read().split())
    except OSError as exc:
        return f"cannot read {parent}/cgroup.subtree_control: {exc.strerror}"
    if "memory" not in enabled:
        return (f"cgroup v2: the memory controller is not enabled for children of {parent} "
                "(delegate a cgroup with memory and pids in its cgroup.subtree_control)")
    why = _probe(parent, "memory.max")
    if why:
        return why
    both = "pids" in enabled
    return CgroupHost(2, parent, parent if both else "",
                      f"cgroup v2 memory{' and pids' if both else ''} under {parent}")


@lru_cache(maxsize=1)
def cgroup_host() -> CgroupHost:
    """Find where run cgroups can be made here (probed once per process)."""
    found = _v1()
    if isinstance(found, str):
        second = _v2()
        if isinstance(second, str):
            return CgroupHost(0, "", "", f"no cgroup: {found}; {second}")
        found = second
    for parent in {found.memory, found.pids} - {""}:
        _remove_stale(parent)
    return found


def _remove_stale(parent: str) -> None:
    """Remove run cgroups that are empty and older than STALE_S (their agentlib died)."""
    try:
        names = [n for n in os.listdir(parent) if n.startswith(PREFIX)]
    except OSError:
        return
    now = time.time()
    for name in names:
        path = os.path.join(parent, name)
        try:
            if now - os.stat(path).st_mtime > STALE_S:
                os.rmdir(path)  # refused while a process is in it
        except OSError:
            pass


def _write(path: str, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(_children(current))
    return found


class RunCgroup:
    """The cgroup(s) of one sandbox run."""

    def __init__(self, host: CgroupHost):
        self.host = host
        name = PREFIX + secrets.token_hex(6)
        self.dirs = [os.path.join(host.memory, name)]
        if host.pids and host.pids != host.memory:
            self.dirs.append(os.path.join(host.pids, name))
        remove_pending()
        with _LOCK:
            if not _CLEANUP:
                atexit.register(_remove_all_at_exit)
                os.register_at_fork(after_in_child=_forget)
                _CLEANUP.append(True)
        made = []
        try:
            for path in self.dirs:
                os.mkdir(path)
                made.append(path)
        except OSError:
            for path in made:
                os.rmdir(path)
            raise
        with _LOCK:
            _MADE.update(made)

    def join(self, pids: list[int]) -> None:
        """Move these processes into the run's cgroup(s)."""
        for path in self.dirs:
            for pid in pids:
                _write(os.path.join(path, "cgroup.procs"), str(pid))

    def limit(self, memory_bytes: int, processes: int) -> None:
        """Set the run's memory bound (swap included) and its task bound."""
        memory = self.dirs[0]
        if self.host.version == 1:
            _write(os.path.join(memory, "memory.limit_in_bytes"), str(memory_bytes))
            if os.path.exists(os.path.join(memory, "memory.memsw.limit_in_bytes")):
                _write(os.path.join(memory, "memory.memsw.limit_in_bytes"), str(memory_bytes))
            if self.host.pids:
                _write(os.path.join(self.dirs[-1], "pids.max"), str(processes))
        else:
            _write(os.path.join(memory, "memory.max"), str(memory_bytes))
            if os.path.exists(os.path.join(memory, "memory.swap.max")):
                _write(os.path.join(memory, "memory.swap.max"), "0")
            if self.host.pids:
                _write(os.path.join(memory, "pids.max"), str(processes))

    def open_oom_counter(self) -> int:
        """A read-only descriptor on the file whose `oom_kill` line counts OOM kills."""
        name = "memory.oom_control" if self.host.version == 1 else "memory.events"
        return os.open(os.path.join(self.dirs[0], name), os.O_RDONLY | os.O_CLOEXEC)

    def remove(self) -> None:
        """Remove the run's cgroup(s); ones still busy are retried later (`remove_pending`).

        The sandbox's processes take a few milliseconds to exit after it is killed; a run does
        not wait for them.
        """
        with _LOCK:
            _PENDING.extend(self.dirs)
        remove_pending()


def remove_pending(wait: float = 0.0) -> None:
    """Remove the run cgroups left busy, trying for up to `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        with _LOCK:
            pending, _PENDING[:] = list(_PENDING), []
        busy = []
        for path in pending:
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError:
                busy.append(path)
                continue
            with _LOCK:
                _MADE.discard(path)
        with _LOCK:
            _PENDING.extend(busy)
        if not busy or time.monotonic() >= deadline:
            return
        time.sleep(0.01)


def made_here() -> set[str]:
    """The run cgroups this process made and has not removed yet (spares hold some)."""
    with _LOCK:
        return set(_MADE)


def _kill_members(path: str) -> None:
    """SIGKILL every process in a run cgroup (by pidfd, checked to still be a member)."""
    import signal

    try:
        with open(os.path.join(path, "cgroup.procs")) as fh:
            pids = [int(p) for p in fh.read().split()]
    except OSError:
        return
    name = os.path.basename(path)
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            continue
        try:
            with open(f"/proc/{pid}/cgroup") as fh:
                if f"/{name}\n" in fh.read():
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(fd)


def _forget() -> None:
    """In a forked child: the run cgroups belong to the parent; never touch them."""
    global _LOCK
    _LOCK = threading.Lock()
    _MADE.clear()
    _PENDING.clear()


def _remove_all_at_exit() -> None:
    """At exit: kill what is left in this process's run cgroups (a spare being started), then
    remove them."""
    with _LOCK:
        left = set(_MADE)
        _PENDING[:] = sorted(left)
    for path in left:
        _kill_members(path)
    remove_pending(wait=2.0)
