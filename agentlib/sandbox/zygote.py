"""The zygote: forks one test process per request, watches it, kills what it left, reports.

It is forked by the harness before the job is read, so it never holds expected values; it runs
as the sandbox's root (when agentlib is root) with CAP_KILL, which test processes — another,
unprivileged uid — cannot signal. It kills a test's processes itself, by pid, so there is no
helper of the test's uid for the test to stop. Everything it reports is measured here: wall
and CPU time (the kernel's rusage of the test process), the peak resident memory of all the
test's processes, what they wrote to stdout and stderr; the test process only supplies its
result, which must fit `channel.check_result`.

Standard library only: runs inside the sandbox.
"""

import _signal  # not `signal`: it imports enum, which the sandbox can do without
import os
import resource
import struct
import time

from agentlib.sandbox.channel import (
    MAX_OUTPUT,
    BadMessage,
    check_result,
    frame,
    json_loads,
    read_exact,
    read_frame,
    short,
    write_all,
)
from agentlib.sandbox.child import FAILED, READY, run_child

TRUSTED_MEMORY_MB = 512
"""Soft address-space limit of the harness and the zygote (test processes raise their own)."""
SIGNAL_NAMES = {number: name for name, number in vars(_signal).items()
                if name.startswith("SIG") and not name.startswith("SIG_") and type(number) is int}
PRIVATE_TMPFS = ("/tmp", "/work")


def limit_own_memory():
    """Bound this trusted process's address space (soft: test processes may raise theirs)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = TRUSTED_MEMORY_MB << 20
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _status(pid):
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            return fh.read(4096)
    except OSError:
        return b""


def _field(status, name):
    at = status.find(b"\n" + name + b":\t")
    return None if at < 0 else status[at + len(name) + 3:].split(b"\n", 1)[0]


def _of_uid(status, uid):
    value = _field(status, b"Uid")
    return value is not None and value.split(b"\t", 1)[0] == str(uid).encode()


def _threads(status):
    return int(_field(status, b"Threads") or 0)


def _resident_kb(pid, status):
    """Resident memory of a process; a zombie leader's comes from its live threads."""
    rss = _field(status, b"VmRSS")
    if rss is not None:
        return int(rss.split(b"kB", 1)[0])
    if _threads(status) < 2:  # a plain zombie counts itself only
        return 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tids:  # the main thread has exited; the others share one address space
        rss = _field(_status(f"{pid}/task/{tid}"), b"VmRSS")
        if rss is not None:
            return int(rss.split(b"kB", 1)[0])
    return 0


def _is_live(status):
    """Alive, or a zombie leader whose other threads still run (its Threads count them)."""
    state = _field(status, b"State") or b"X"
    return state[:1] not in (b"Z", b"X") or _threads(status) > 1


def resident_bytes(uid, keep):
    """Sum the resident memory of the test's processes: those of `uid`, or when None, every
    process of this private PID namespace but those in `keep`."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in keep:
            continue
        status = _status(entry)
        if uid is None or _of_uid(status, uid):
            total += _resident_kb(entry, status) * 1024
    return total


def inodes_used():
    """Files, directories and links on the sandbox's private /tmp and /work together."""
    used = 0
    for path in PRIVATE_TMPFS:
        st = os.statvfs(path)
        used += st.f_files - st.f_ffree
    return used


def _kill_uid(uid, grace=2.0):
    """Kill every process running as `uid`, by pid, until none is left alive."""
    deadline = time.monotonic() + grace
    while True:
        live = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            status = _status(entry)
            if not _of_uid(status, uid):
                continue
            try:
                os.kill(int(entry), _signal.SIGKILL)
            except OSError:
                pass
            live += _is_live(status)
        if not live or time.monotonic() > deadline:
            return
        time.sleep(0.001)


def _kill_namespace_others(grace=2.0):
    """Kill every process of this private PID namespace but init, the harness and us.

    For runs without a uid of their own (agentlib not root): the namespace holds only the
    sandbox, so whatever else lives in it was started by the test.
    """
    keep = {1, os.getpid(), os.getppid()}
    deadline = time.monotonic() + grace
    while True:
        live = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in keep:
                continue
            status = _status(entry)
            try:
                os.kill(int(entry), _signal.SIGKILL)
            except OSError:
                continue
            live += _is_live(status)
        if not live or time.monotonic() > deadline:
            return
        time.sleep(0.001)


def _reap(pid, uid, private_pids):
    try:
        os.killpg(pid, _signal.SIGKILL)
    except ProcessLookupError:
        pass
    if uid is not None:
        _kill_uid(uid)
    elif private_pids:
        _kill_namespace_others()
    _, status, usage = os.wait4(pid, 0)
    return status, usage


def _read_output(path):
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_OUTPUT * 4)
        os.unlink(path)
    except OSError:
        return ""
    return short(data.decode("utf-8", "replace"), MAX_OUTPUT)


CGROUP_OOM = "the run's processes together reached the run's memory bound (its cgroup)"


def oom_kills(fd):
    """The run cgroup's count of OOM kills (its `oom_kill` line), or 0 without a cgroup."""
    if fd is None:
        return 0
    try:
        text = os.pread(fd, 4096, 0)
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(b"oom_kill "):
            return int(line.split()[1])
    return 0


class _Watch:
    """Called every 20 ms while a test runs: says which bound the test broke, if any.

    Files count against the bound only once the test adds to them: what earlier tests left
    on the private tmpfs does not fail the next one.
    """

    def __init__(self, request, keep):
        limits = request["limits"]
        self.uid, self.keep, self.oom_fd = request["uid"], keep, request["oom_fd"]
        self.budget = int(limits["total_memory_mb"] or 2 * limits["memory_mb"]) << 20
        self.memory = request["uid"] is not None or request["private_pids"]
        self.files = int(limits["disk_files"]) if request["private_tmpfs"] else None
        self.files_before = inodes_used() if self.files is not None else 0
        self.oom_before = oom_kills(self.oom_fd)
        self.peak = 0

    def __call__(self):
        if self.memory:
            resident = resident_bytes(self.uid, self.keep)
            self.peak = max(self.peak, resident)
            if resident > self.budget:
                return ("MemoryLimitExceeded", f"the test's processes together held more than "
                                               f"{self.budget >> 20} MB")
        if self.oom_fd is not None and oom_kills(self.oom_fd) > self.oom_before:
            return "MemoryLimitExceeded", CGROUP_OOM
        if self.files is not None:
            used = inodes_used()
            if used > max(self.files, self.files_before + 2):  # + its stdout and stderr
                return ("InodeLimitExceeded", f"the test made more than {self.files} files, "
                                              "directories or links on the private /tmp and "
                                              "/work")
        return None


def _outcome(request, rfd, start, watch):
    """Wait for the test process's result: (sandbox error kind or None, text, result)."""
    deadline = start + float(request["limits"]["timeout_s"])
    marker = read_exact(rfd, 1, deadline)
    if marker is None:
        return "Timeout", "", None
    if marker == FAILED:
        status, data = read_frame(rfd, deadline)
        try:
            why = str(json_loads(data)["setup_error"]) if status == "ok" else "no reason given"
        except (ValueError, KeyError, TypeError):
            why = "no reason given"
        return "IsolationError", f"the test process could not be set up: {short(why, 500)}", None
    if marker != READY:
        return "NoResult", "", None
    status, data = read_frame(rfd, deadline, watch)
    if status == "ok":
        try:
            return None, "", check_result(json_loads(data), len(request["calls"]))
        except ValueError as exc:
            return "BadResult", f"isolation-error: the result is not JSON ({exc})", None
        except BadMessage as exc:
            return "BadResult", f"isolation-error: the test process sent {exc}", None
    if status == "too-large":
        return "BadResult", (f"isolation-error: the test process announced a result of "
                             f"{data} bytes, more than the channel allows"), None
    if status == "watch":
        return data[0], data[1], None
    if status == "timeout":
        return "Timeout", "", None
    return "NoResult", "", None


def _serve(request, n, outputs):
    """Run one test and return the outcome for the harness."""
    limits, uid = request["limits"], request["uid"]
    out_path = os.path.join(outputs, f"out{n}")
    err_path = os.path.join(outputs, f"err{n}")
    watch = _Watch(request, {1, os.getpid(), os.getppid()})
    rfd, wfd = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        run_child(request, wfd, out_path, err_path)
    os.close(wfd)
    error, text, result = _outcome(request, rfd, start, watch)
    wall = time.monotonic() - start
    os.close(rfd)
    status, usage = _reap(pid, uid, request["private_pids"])
    if oom_kills(request["oom_fd"]) > watch.oom_before:
        error, text = "MemoryLimitExceeded", CGROUP_OOM
    elif error == "NoResult" and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        error = "CPUTimeExceeded" if sig == _signal.SIGXCPU else "Crashed"
        text = f"test process killed by {SIGNAL_NAMES.get(sig, sig)}"
    elif error == "NoResult":
        text = (f"test process exited with status {os.waitstatus_to_exitcode(status)} "
                "before reporting")
    elif error == "Timeout":
        text = f"test did not finish within {limits['timeout_s']} s"
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_memory_mb": max(usage.ru_maxrss * 1024, watch.peak) / (1 << 20),
            "stdout": _read_output(out_path), "stderr": _read_output(err_path),
            "error": error, "message": text, "result": result}


def zygote(req_fd, resp_fd, workdir):
    """Serve test requests from the harness until it closes the pipe. Never returns."""
    limit_own_memory()
    outputs = os.path.join(workdir, ".outputs")  # only the zygote's uid may enter it
    os.mkdir(outputs, 0o700)
    n = 0
    while True:
        header = read_exact(req_fd, 4)
        if not header or len(header) < 4:
            os._exit(0)
        request = json_loads(read_exact(req_fd, struct.unpack(">I", header)[0]))
        n += 1
        write_all(resp_fd, frame(_serve(request, n, outputs)))
