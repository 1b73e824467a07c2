"""One test process: forked by the zygote, it sets up its limits, then runs untrusted code.

Until it writes the byte `READY` on its result pipe, only trusted code has run in it (its
limits, its uid drop, the trusted imports). After that byte everything it sends is untrusted
and goes through `channel.check_result` on the other side. A setup failure is reported as
`FAILED` followed by one frame, before any untrusted code runs, so it cannot be forged.

Standard library only: runs inside the sandbox.
"""

import builtins
import math
import os
import resource
import sys

from agentlib.sandbox.channel import (
    MAX_ERROR_MESSAGE,
    MAX_MESSAGE,
    MAX_TRACEBACK,
    NotStandard,
    encode,
    frame,
    short,
    write_all,
)

READY = b"S"
FAILED = b"E"


def _limit(limits, uid, preload=()):
    mem = int(limits["memory_mb"]) << 20
    cpu = max(1, int(math.ceil(limits["cpu_s"])))
    settings = [
        (resource.RLIMIT_AS, (mem, mem)),
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_FSIZE, (int(limits["file_mb"]) << 20,) * 2),
        (resource.RLIMIT_NOFILE, (int(limits["open_files"]),) * 2),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    if uid is not None:
        settings.append((resource.RLIMIT_NPROC, (int(limits["processes"]),) * 2))
    for what, value in settings:
        try:
            resource.setrlimit(what, value)
        except (ValueError, OSError):
            pass
    try:  # the first the kernel's OOM killer picks, in the run's cgroup and on the host
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")
    except OSError:
        pass
    for name in preload:  # trusted modules, imported while the install is still readable
        try:
            __import__(name)
        except Exception:
            pass
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def import_into(names, namespace):
    """Bind each named module in `namespace` unless the name is already bound there."""
    for name in names:
        if name not in namespace:
            try:
                namespace[name] = __import__(name)
            except ImportError:
                pass


def _send(wfd, message):
    data = frame(message)
    if len(data) > MAX_MESSAGE + 4:
        data = frame({"error": "OutputTooLarge",
                      "message": f"a result of {len(data)} bytes, more than {MAX_MESSAGE}"})
    write_all(wfd, data)


def run_child(request, wfd, out_path, err_path):
    """Run one test in this (forked) process and send the outcome on `wfd`. Never returns."""
    limits, uid = request["limits"], request["uid"]
    try:
        os.setpgid(0, 0)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.closerange(3, wfd)
        os.closerange(wfd + 1, 65536)
        sys.path[:0] = request["paths"]
        _limit(limits, uid, request["preload"])
        sys.setrecursionlimit(10000)
    except BaseException as exc:  # the sandbox could not be set up: say so, then stop
        write_all(wfd, FAILED + frame({"setup_error": short(f"{type(exc).__name__}: {exc}",
                                                            MAX_ERROR_MESSAGE)}))
        os._exit(0)
    write_all(wfd, READY)  # from here on, this process runs untrusted code
    namespace = {"__name__": "__candidate__", "__builtins__": builtins}
    try:
        if request["setup"]:
            exec(compile(request["setup"], "<test setup>", "exec"), namespace)
        exec(compile(request["program"], "<candidate>", "exec"), namespace)
        import_into(request["imports"], namespace)
        for example in request["after"]:
            try:
                exec(compile(example, "<doctest example>", "single"), namespace)
            except Exception:  # that example is judged by its own case
                pass
        if request["source"]:
            echo = request["kind"] == "doctest-script"
            if echo:  # the example's output starts here, not with earlier examples'
                sys.stdout.flush()
                os.ftruncate(1, 0)
                os.lseek(1, 0, os.SEEK_SET)
            exec(compile(request["source"], "<test>", "single" if echo else "exec"), namespace)
            message = {"ran": True}
        else:
            values = [eval(compile(call, "<test>", "eval"), namespace) for call in request["calls"]]
            message = {"values": [encode(v) for v in values]}
    except NotStandard as exc:
        message = {"error": "NotStandardType", "message": str(exc)}
    except BaseException as exc:
        message = {"error": type(exc).__name__, "message": short(str(exc), MAX_ERROR_MESSAGE)}
        try:
            import traceback

            tb = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-3)
            message["traceback"] = short("".join(tb), MAX_TRACEBACK)
        except BaseException:
            pass
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    try:
        _send(wfd, message)
    except BaseException:
        os._exit(1)
    os._exit(0)
