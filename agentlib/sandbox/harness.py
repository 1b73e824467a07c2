"""The in-sandbox test harness. Standard library only: it runs as `python -I -S harness.py`.

Process layout inside the sandbox (never in the agentlib process):

    harness (trusted: reads the job, judges results, writes the verdict on fd 3)
      └─ zygote (trusted: forked before the job is read, so it never holds expected values)
           └─ one child per test (untrusted: drops to an unprivileged uid when root,
              applies rlimits, runs the program and evaluates the test's calls)

An `assert` test is split by `split_assert`: the calls to functions the program defines are
evaluated in the child; their results come back as tagged JSON restricted to exact built-in
types (a subclass, or an object with a rigged `__eq__`, is refused); the rest of the
expression — the comparison — is evaluated here in the harness, which the candidate cannot
reach. So printing, exiting, patching or writing to inherited descriptors cannot turn a
failing assert into a pass. Tests that are not a single `assert` run whole in the child and
pass when it reports no exception; such tests are weaker and the verdict says so.
"""

from __future__ import annotations

import ast
import builtins
import json
import math
import os
import resource
import select
import signal
import struct
import sys
import time
import traceback

MAX_MESSAGE = 4 << 20  # bytes a child may send back
MAX_OUTPUT = 2000  # characters of stdout/stderr kept per test


# ---------------------------------------------------------------- value transport


class NotStandard(Exception):
    """A value that is not made of exact built-in types."""


def encode(value, depth=0):
    """Encode a value made only of exact built-in types as tagged JSON data."""
    if depth > 50:
        raise NotStandard("value nested deeper than 50 levels")
    t = type(value)
    if value is None:
        return ["none"]
    if t is bool:
        return ["bool", value]
    if t is int:
        return ["int", str(value)]
    if t is float:
        return ["float", repr(value)]
    if t is complex:
        return ["complex", repr(value.real), repr(value.imag)]
    if t is str:
        return ["str", value]
    if t is bytes:
        return ["bytes", value.hex()]
    if t in (list, tuple, set, frozenset):
        return [t.__name__, [encode(v, depth + 1) for v in value]]
    if t is dict:
        return ["dict", [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]]
    if t is range:
        return ["range", value.start, value.stop, value.step]
    raise NotStandard(f"returned a value of type {t.__module__}.{t.__qualname__}, "
                      "which is not a standard built-in type")


def decode(data):
    """Rebuild a value from `encode`'s tagged form (in the trusted harness)."""
    tag = data[0]
    if tag == "none":
        return None
    if tag == "bool":
        return bool(data[1])
    if tag == "int":
        return int(data[1])
    if tag == "float":
        return float(data[1])
    if tag == "complex":
        return complex(float(data[1]), float(data[2]))
    if tag == "str":
        return str(data[1])
    if tag == "bytes":
        return bytes.fromhex(data[1])
    if tag in ("list", "tuple", "set", "frozenset"):
        items = [decode(v) for v in data[1]]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    if tag == "dict":
        return {decode(k): decode(v) for k, v in data[1]}
    if tag == "range":
        return range(int(data[1]), int(data[2]), int(data[3]))
    raise ValueError(f"unknown tag {tag!r}")


# ---------------------------------------------------------------- splitting tests


def defined_names(program):
    """Return the top-level names a program defines (functions, classes, assignments)."""
    names = set()
    for node in ast.parse(program).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name):
                        names.add(sub.id)
    return names


def import_missing(source, namespace):
    """Import standard-library modules that `source` names but `namespace` lacks."""
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Name) and node.id not in namespace
                and node.id in sys.stdlib_module_names and not hasattr(builtins, node.id)):
            try:
                namespace[node.id] = __import__(node.id)
            except ImportError:
                pass


class _CallExtractor(ast.NodeTransformer):
    """Replace each outermost expression that touches program names by `__v[i]`."""

    def __init__(self, program_names):
        self.program_names = program_names
        self.calls = []

    def _touches_program(self, node):
        return any(isinstance(n, ast.Name) and n.id in self.program_names for n in ast.walk(node))

    def visit_Call(self, node):
        if self._touches_program(node.func):
            return self._extract(node)
        return self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in self.program_names:
            return self._extract(node)
        return node

    def _extract(self, node):
        self.calls.append(ast.unparse(node))
        index = len(self.calls) - 1
        return ast.Subscript(
            value=ast.Name(id="__v", ctx=ast.Load()),
            slice=ast.Constant(value=index),
            ctx=ast.Load(),
        )


def split_assert(test, program_names):
    """Split an `assert` test into (calls for the child, judge expression, message expr).

    Return None when the test is not one `assert` statement.
    """
    try:
        tree = ast.parse(test)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return None
    node = tree.body[0]
    extractor = _CallExtractor(program_names)
    judged = extractor.visit(node.test)
    ast.fix_missing_locations(judged)
    return extractor.calls, ast.unparse(judged)


# ---------------------------------------------------------------- the untrusted child


def _limit(limits, uid):
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
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def _run_child(request, wfd, out_path, err_path, limits, uid):
    """Run one test in this (forked) process and send the outcome on `wfd`. Never returns."""
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
        _limit(limits, uid)
        sys.setrecursionlimit(limits.get("recursion", 10000))
    except BaseException as exc:  # the sandbox could not be set up: say so
        _send(wfd, {"setup_error": f"{type(exc).__name__}: {exc}"})
        os._exit(0)
    namespace = {"__name__": "__candidate__", "__builtins__": builtins}
    try:
        if request["setup"]:
            exec(compile(request["setup"], "<test setup>", "exec"), namespace)
        exec(compile(request["program"], "<candidate>", "exec"), namespace)
        if request["calls"] is None:
            import_missing(request["test"], namespace)
            exec(compile(request["test"], "<test>", "exec"), namespace)
            message = {"ran": True}
        else:
            values = []
            for call in request["calls"]:
                import_missing(call, namespace)
                values.append(eval(compile(call, "<test>", "eval"), namespace))
            message = {"values": [encode(v) for v in values]}
    except NotStandard as exc:
        message = {"error": "NotStandardType", "message": str(exc)}
    except BaseException as exc:
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-3)
        message = {
            "error": type(exc).__name__,
            "message": _short(str(exc), 500),
            "traceback": _short("".join(tb), 1500),
        }
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


def _short(text, limit):
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more]"


def _send(fd, message):
    data = json.dumps(message).encode()
    if len(data) > MAX_MESSAGE:
        data = json.dumps({"error": "OutputTooLarge",
                           "message": f"result of {len(data)} bytes exceeds {MAX_MESSAGE}"}).encode()
    payload = struct.pack(">I", len(data)) + data
    while payload:
        written = os.write(fd, payload)
        payload = payload[written:]


def _read_message(fd, deadline):
    """Read one length-prefixed message; None on timeout, {} on EOF without a message."""
    buf = b""
    need = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            return None
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return {}
        buf += chunk
        if need is None and len(buf) >= 4:
            need = struct.unpack(">I", buf[:4])[0]
            if need > MAX_MESSAGE:
                return {}
        if need is not None and len(buf) >= 4 + need:
            try:
                return json.loads(buf[4:4 + need])
            except ValueError:
                return {}


# ---------------------------------------------------------------- the zygote


def _kill_uid(uid):
    """Kill every process running as `uid` (grandchildren that escaped their group)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        except BaseException:
            pass
        os._exit(0)
    os.waitpid(pid, 0)


def _reap(pid, uid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if uid is not None:
        _kill_uid(uid)
    _, status = os.waitpid(pid, 0)
    return status


def _read_file(path):
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_OUTPUT * 4)
        os.unlink(path)
    except OSError:
        return ""
    return _short(data.decode("utf-8", "replace"), MAX_OUTPUT)


def zygote(req_fd, resp_fd, workdir):
    """Serve test requests: fork a child per test, time it, relay its outcome."""
    req = os.fdopen(req_fd, "rb")
    n = 0
    while True:
        header = req.read(4)
        if len(header) < 4:
            os._exit(0)
        request = json.loads(req.read(struct.unpack(">I", header)[0]))
        limits, uid = request["limits"], request["uid"]
        n += 1
        out_path = os.path.join(workdir, f".out{n}")
        err_path = os.path.join(workdir, f".err{n}")
        rfd, wfd = os.pipe()
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            _run_child(request, wfd, out_path, err_path, limits, uid)
        os.close(wfd)
        message = _read_message(rfd, start + float(limits["timeout_s"]))
        wall = time.monotonic() - start
        os.close(rfd)
        status = _reap(pid, uid)
        outcome = {"wall_s": wall, "stdout": _read_file(out_path), "stderr": _read_file(err_path)}
        if message is None:
            outcome["error"] = "Timeout"
            outcome["message"] = f"test did not finish within {limits['timeout_s']} s"
        elif not message:
            if os.WIFSIGNALED(status):
                sig = os.WTERMSIG(status)
                name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig
                outcome["error"] = "CPUTimeExceeded" if sig == signal.SIGXCPU else "Crashed"
                outcome["message"] = f"test process killed by {name}"
            else:
                outcome["error"] = "NoResult"
                outcome["message"] = (f"test process exited with status "
                                      f"{os.waitstatus_to_exitcode(status)} before reporting")
        else:
            outcome.update(message)
        _send(resp_fd, outcome)


# ---------------------------------------------------------------- the harness


def judge(test, split, outcome, setup):
    """Turn a child's outcome into a test result (runs only in the trusted harness)."""
    result = {"test": test, "passed": False, "error_type": None, "message": "",
              "stdout": outcome.get("stdout", ""), "stderr": outcome.get("stderr", ""),
              "wall_s": outcome.get("wall_s", 0.0)}
    if "setup_error" in outcome:
        result["error_type"] = "IsolationError"
        result["message"] = outcome["setup_error"]
        return result
    if "error" in outcome:
        result["error_type"] = outcome["error"]
        result["message"] = outcome.get("message", "")
        if outcome.get("traceback"):
            result["message"] += "\n" + outcome["traceback"]
        return result
    if split is None:
        result["passed"] = bool(outcome.get("ran"))
        return result
    calls, expression = split
    try:
        values = [decode(v) for v in outcome["values"]]
    except (KeyError, ValueError, TypeError, IndexError):
        result["error_type"] = "BadResult"
        result["message"] = "the test process sent a malformed result"
        return result
    namespace = {"__builtins__": builtins}
    if setup:
        try:
            exec(compile(setup, "<test setup>", "exec"), namespace)
        except BaseException:
            pass
    namespace["__v"] = values
    try:
        import_missing(expression, namespace)
        ok = eval(compile(expression, "<test>", "eval"), namespace)
    except BaseException as exc:
        result["error_type"] = type(exc).__name__
        result["message"] = _short(f"evaluating the test raised {type(exc).__name__}: {exc}", 500)
        return result
    if ok:
        result["passed"] = True
        return result
    result["error_type"] = "AssertionError"
    shown = ", ".join(f"{c} returned {_short(repr(v), 300)}" for c, v in zip(calls, values))
    result["message"] = f"assertion failed: {shown}" if shown else "assertion failed"
    return result


def main():
    verdict_fd = int(sys.argv[1])
    workdir = os.getcwd()
    try:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0: no ptrace, no /proc/mem
    except (OSError, AttributeError):
        pass
    req_r, req_w = os.pipe()
    resp_r, resp_w = os.pipe()
    zpid = os.fork()
    if zpid == 0:  # the zygote is forked before the job is read
        os.close(req_w)
        os.close(resp_r)
        os.close(verdict_fd)
        zygote(req_r, resp_w, workdir)
    os.close(req_r)
    os.close(resp_w)
    job = json.loads(sys.stdin.buffer.read())
    program, limits, uid = job["program"], job["limits"], job.get("uid")
    if uid is not None and os.getuid() != 0:
        uid = None
    results = []
    try:
        names = defined_names(program)
    except SyntaxError as exc:
        names = None
        syntax = f"line {exc.lineno}: {exc.msg}"
    for test in job["tests"]:
        if names is None:
            results.append({"test": test["source"], "passed": False, "error_type": "SyntaxError",
                            "message": f"the program does not parse ({syntax})", "stdout": "",
                            "stderr": "", "wall_s": 0.0})
            continue
        split = split_assert(test["source"], names)
        request = {"program": program, "setup": test.get("setup", ""), "test": test["source"],
                   "calls": split[0] if split else None, "limits": limits, "uid": uid}
        _send(req_w, request)
        outcome = _read_message(resp_r, time.monotonic() + float(limits["timeout_s"]) + 10)
        if not outcome:
            outcome = {"error": "HarnessError", "message": "the zygote stopped answering"}
        results.append(judge(test["source"], split, outcome, test.get("setup", "")))
    os.close(req_w)
    os.waitpid(zpid, 0)
    _send(verdict_fd, {"results": results, "uid_isolated": uid is not None})


if __name__ == "__main__":
    main()
