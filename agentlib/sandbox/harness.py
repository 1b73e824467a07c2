"""The in-sandbox test harness. Standard library only: it runs as `python -I -S harness.py`.

Process layout inside the sandbox (never in the agentlib process):

    harness (trusted: reads the job, judges results, writes the verdict on its verdict fd)
      └─ zygote (trusted: forked before the job is read, so it never holds expected values)
           └─ one child per test (untrusted: drops to an unprivileged uid when root,
              applies rlimits, runs the program and evaluates the test's calls)

The tests arrive prepared by `agentlib.sandbox.prepare` (in the trusted agentlib process):
for an `assert` or a doctest example, the calls to names the program defines are evaluated in
the child and come back as tagged JSON restricted to exact built-in types (a subclass, or an
object with a rigged `__eq__`, is refused); the rest — the comparison, or the doctest's
printed output — is evaluated here, where the candidate cannot reach. The child is never sent
the test's source for those kinds, so the expected values are not in its memory. Printing,
exiting, patching, raising BaseException or writing to inherited descriptors cannot turn a
failing assert into a pass. Tests that are several statements run whole in the child, which
then reports its own success; they are weaker, and the verdict says how many there were.
"""

from __future__ import annotations

import _signal  # not `signal`: it imports enum, which the harness can do without
import builtins
import io
import math
import os
import resource
import select
import struct
import sys
import time

MAX_MESSAGE = 4 << 20  # bytes a child may send back
MAX_OUTPUT = 2000  # characters of stdout/stderr kept per test


# ---------------------------------------------------------------- value transport

SIGNAL_NAMES = {number: name for name, number in vars(_signal).items()
                if name.startswith("SIG") and not name.startswith("SIG_") and type(number) is int}


def _json_codec():
    """Return (dumps, loads) built on `_json`, the C code `json` itself runs on.

    Importing `json` pulls in `re` and `enum`, most of the harness's start-up time; the C
    scanner and encoder need neither. Malformed input raises ValueError, as `json.loads` does.
    Falls back to `json` where the accelerator is missing.
    """
    try:
        import _json
    except ImportError:
        import json

        return json.dumps, json.loads

    def refuse_constant(name):
        raise ValueError(f"{name} is not valid here")

    def refuse_object(value):
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    class Context:
        strict = True
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int
        parse_constant = staticmethod(refuse_constant)
        memo = None

    scanner = _json.make_scanner(Context())
    encoder = _json.make_encoder({}, refuse_object, _json.encode_basestring_ascii, None, ":",
                                 ",", False, False, True)

    def dumps(value):
        return "".join(encoder(value, 0))

    def loads(text):
        if isinstance(text, (bytes, bytearray)):
            text = text.decode("utf-8")
        try:
            value, end = scanner(text, 0)
        except StopIteration:
            raise ValueError("not JSON") from None
        if text[end:].strip():
            raise ValueError("extra data after the JSON value")
        return value

    return dumps, loads


json_dumps, json_loads = _json_codec()


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


# ---------------------------------------------------------------- the untrusted child


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
    for name in preload:  # trusted modules, imported while the install is still readable
        try:
            __import__(name)
        except Exception:
            pass
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def _import_into(names, namespace):
    for name in names:
        if name not in namespace:
            try:
                namespace[name] = __import__(name)
            except ImportError:
                pass


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
        sys.path[:0] = request["paths"]
        _limit(limits, uid, request["preload"])
        sys.setrecursionlimit(limits.get("recursion", 10000))
    except BaseException as exc:  # the sandbox could not be set up: say so
        _send(wfd, {"setup_error": f"{type(exc).__name__}: {exc}"})
        os._exit(0)
    namespace = {"__name__": "__candidate__", "__builtins__": builtins}
    try:
        if request["setup"]:
            exec(compile(request["setup"], "<test setup>", "exec"), namespace)
        exec(compile(request["program"], "<candidate>", "exec"), namespace)
        _import_into(request["imports"], namespace)
        for example in request["after"]:
            try:
                exec(compile(example, "<doctest example>", "single"), namespace)
            except Exception:  # that example is judged by its own case
                pass
        if request["source"]:
            mode = "single" if request["echo"] else "exec"  # "single" echoes like doctest
            if request["echo"]:  # the example's output starts here, not with earlier examples'
                sys.stdout.flush()
                os.ftruncate(1, 0)
                os.lseek(1, 0, os.SEEK_SET)
            exec(compile(request["source"], "<test>", mode), namespace)
            message = {"ran": True}
        else:
            values = [eval(compile(call, "<test>", "eval"), namespace) for call in request["calls"]]
            message = {"values": [encode(v) for v in values]}
    except NotStandard as exc:
        message = {"error": "NotStandardType", "message": str(exc)}
    except BaseException as exc:
        message = {"error": type(exc).__name__, "message": _short(str(exc), 500)}
        try:
            import traceback

            tb = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-3)
            message["traceback"] = _short("".join(tb), 1500)
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


def _short(text, limit):
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more]"


def _send(fd, message):
    data = json_dumps(message).encode()
    if len(data) > MAX_MESSAGE:
        data = json_dumps({"error": "OutputTooLarge",
                           "message": f"result of {len(data)} bytes exceeds {MAX_MESSAGE}"}).encode()
    payload = struct.pack(">I", len(data)) + data
    while payload:
        written = os.write(fd, payload)
        payload = payload[written:]


WATCHDOG = {"watchdog": True}


def _read_message(fd, deadline, watch=None, every=0.02):
    """Read one length-prefixed message; None on timeout, {} on EOF without a message.

    While waiting, `watch()` is called every `every` seconds; when it returns True the wait
    ends with WATCHDOG.
    """
    buf = b""
    need = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], min(remaining, every) if watch else remaining)
        if not ready:
            if watch is not None and watch():
                return WATCHDOG
            continue
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
                return json_loads(buf[4:4 + need])
            except ValueError:
                return {}


# ---------------------------------------------------------------- the zygote


def _resident_bytes(uid, keep):
    """Sum the resident memory of the test's processes: those of `uid`, or when None, every
    process of this private PID namespace but those in `keep`."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in keep:
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as fh:
                status = fh.read(4096)
        except OSError:
            continue
        if uid is not None:
            uid_at = status.find(b"\nUid:\t")
            if uid_at < 0 or status[uid_at + 6:].split(b"\t", 1)[0] != str(uid).encode():
                continue
        rss_at = status.find(b"\nVmRSS:")
        if rss_at >= 0:
            total += int(status[rss_at + 7:].split(b"kB", 1)[0]) * 1024
    return total


def _live_processes(uid):
    """Count the processes of `uid` that are not yet dead (zombies are dead)."""
    live = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as fh:
                status = fh.read(2048)
        except OSError:
            continue
        uid_at = status.find(b"\nUid:\t")
        state_at = status.find(b"\nState:\t")
        if (uid_at >= 0 and status[uid_at + 6:].split(b"\t", 1)[0] == str(uid).encode()
                and status[state_at + 8:state_at + 9] not in (b"Z", b"X")):
            live += 1
    return live


def _kill_uid(uid, grace=2.0):
    """Kill every process running as `uid` (grandchildren that escaped their group).

    Repeats until no live process of that uid is left, so none can start the next test.
    """
    deadline = time.monotonic() + grace
    while True:
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, _signal.SIGKILL)
            except BaseException:
                pass
            os._exit(0)
        os.waitpid(pid, 0)
        if not _live_processes(uid) or time.monotonic() > deadline:
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
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    state = fh.read(512).rsplit(b")", 1)[1][1:2]
                if state in (b"Z", b"X"):
                    continue
                os.kill(int(entry), _signal.SIGKILL)
                live += 1
            except (OSError, IndexError):
                continue
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
    outputs = os.path.join(workdir, ".outputs")  # only the zygote's uid may enter it
    os.mkdir(outputs, 0o700)
    n = 0
    while True:
        header = req.read(4)
        if len(header) < 4:
            os._exit(0)
        request = json_loads(req.read(struct.unpack(">I", header)[0]))
        limits, uid = request["limits"], request["uid"]
        n += 1
        out_path = os.path.join(outputs, f"out{n}")
        err_path = os.path.join(outputs, f"err{n}")
        rfd, wfd = os.pipe()
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            _run_child(request, wfd, out_path, err_path, limits, uid)
        os.close(wfd)
        watch = None
        if uid is not None or request["private_pids"]:
            budget = int(limits["total_memory_mb"] or 2 * limits["memory_mb"]) << 20
            keep = {1, os.getpid(), os.getppid()}
            def watch(uid=uid, keep=keep, budget=budget):
                return _resident_bytes(uid, keep) > budget
        message = _read_message(rfd, start + float(limits["timeout_s"]), watch)
        wall = time.monotonic() - start
        os.close(rfd)
        status, usage = _reap(pid, uid, request["private_pids"])
        outcome = {"wall_s": wall, "stdout": _read_file(out_path), "stderr": _read_file(err_path),
                   "cpu_s": usage.ru_utime + usage.ru_stime,
                   "peak_memory_mb": usage.ru_maxrss / 1024}
        if message is None:
            outcome["error"] = "Timeout"
            outcome["message"] = f"test did not finish within {limits['timeout_s']} s"
        elif message is WATCHDOG:
            outcome["error"] = "MemoryLimitExceeded"
            outcome["message"] = (f"the test's processes together held more than "
                                  f"{budget >> 20} MB")
        elif not message:
            if os.WIFSIGNALED(status):
                sig = os.WTERMSIG(status)
                name = SIGNAL_NAMES.get(sig, sig)
                outcome["error"] = "CPUTimeExceeded" if sig == _signal.SIGXCPU else "Crashed"
                outcome["message"] = f"test process killed by {name}"
            else:
                outcome["error"] = "NoResult"
                outcome["message"] = (f"test process exited with status "
                                      f"{os.waitstatus_to_exitcode(status)} before reporting")
        else:
            outcome.update(message)
        _send(resp_fd, outcome)


# ---------------------------------------------------------------- the harness


def _normalise_output(text):
    lines = [line.rstrip() for line in text.replace("<BLANKLINE>", "").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _expected_exception(want):
    """Return (type name, message or None) when a doctest expects an exception."""
    if not want.startswith("Traceback (most recent call last)"):
        return None
    last = [line for line in want.splitlines() if line and not line[0].isspace()][-1]
    name, colon, message = last.partition(":")
    return name.strip().rsplit(".", 1)[-1], (message.strip() if colon else None)


def _raised_as_expected(expected, error, message):
    name, text = expected
    return error == name and (text is None or text == message.strip())


def _result(case, outcome):
    return {"test": case["test"], "passed": False, "error_type": None, "message": "",
            "stdout": outcome.get("stdout", ""), "stderr": outcome.get("stderr", ""),
            "wall_s": outcome.get("wall_s", 0.0), "cpu_s": outcome.get("cpu_s", 0.0),
            "peak_memory_mb": outcome.get("peak_memory_mb", 0.0)}


def _judge_namespace(case, values):
    namespace = {"__builtins__": builtins}
    if case["setup"]:
        try:
            exec(compile(case["setup"], "<test setup>", "exec"), namespace)
        except Exception:  # setup that needs the program ran in the child; values carry it
            pass
    _import_into(case["imports"], namespace)
    namespace["__v"] = values
    return namespace


def judge(case, outcome):
    """Turn a child's outcome into a test result (runs only in the trusted harness)."""
    result = _result(case, outcome)
    expected_exc = _expected_exception(case["want"]) if case["want"] else None
    if "setup_error" in outcome:
        result.update(error_type="IsolationError", message=outcome["setup_error"])
        return result
    if "error" in outcome:
        if expected_exc and outcome["error"] not in ("Timeout", "CPUTimeExceeded", "Crashed",
                                                      "NoResult", "HarnessError", "BadResult"):
            if _raised_as_expected(expected_exc, outcome["error"], outcome.get("message", "")):
                result["passed"] = True
                return result
        message = outcome.get("message", "")
        if outcome.get("traceback"):
            message += "\n" + outcome["traceback"]
        result.update(error_type=outcome["error"], message=message)
        return result
    if case["kind"] == "script":
        result["passed"] = bool(outcome.get("ran"))
        return result
    if case["kind"] == "doctest-script":
        return _compare_output(result, case["want"], outcome.get("stdout", ""), expected_exc)
    try:
        values = [decode(v) for v in outcome["values"]]
        if len(values) != len(case["calls"]):
            raise ValueError("wrong number of values")
    except (KeyError, ValueError, TypeError, IndexError, AttributeError):
        result.update(error_type="BadResult", message="the test process sent a malformed result")
        return result
    namespace = _judge_namespace(case, values)
    code = compile(case["judge"], "<test>", "eval")
    if case["kind"] == "doctest":
        captured, saved = io.StringIO(), sys.stdout
        sys.stdout = captured
        try:
            value = eval(code, namespace)
        except Exception as exc:
            sys.stdout = saved
            if expected_exc and _raised_as_expected(expected_exc, type(exc).__name__, str(exc)):
                result["passed"] = True
                return result
            result.update(error_type=type(exc).__name__,
                          message=_short(f"evaluating the example raised: {exc}", 500))
            return result
        finally:
            sys.stdout = saved
        got = captured.getvalue() + ("" if value is None else repr(value) + "\n")
        return _compare_output(result, case["want"], got, expected_exc)
    try:
        ok = bool(eval(code, namespace))
    except Exception as exc:
        result.update(error_type=type(exc).__name__,
                      message=_short(f"evaluating the test raised {type(exc).__name__}: {exc}", 500))
        return result
    if ok:
        result["passed"] = True
        return result
    shown = ", ".join(f"{c} returned {_short(repr(v), 300)}" for c, v in zip(case["calls"], values, strict=True))
    result.update(error_type="AssertionError",
                  message=f"assertion failed: {shown}" if shown else "assertion failed")
    return result


def _compare_output(result, want, got, expected_exc):
    if expected_exc is None and _normalise_output(got) == _normalise_output(want):
        result["passed"] = True
        return result
    result.update(error_type="OutputMismatch",
                  message=_short(f"expected {want.strip()!r}, got {got.strip()!r}", 800))
    return result


def _forbid_ptrace():
    """Make this process non-dumpable: a same-uid child cannot read its memory."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    except (OSError, AttributeError):
        pass


def main():
    verdict_fd = int(sys.argv[1])
    workdir = os.getcwd()
    if os.getuid() != 0:  # no uid drop possible: children share our uid
        _forbid_ptrace()
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
    job = json_loads(sys.stdin.buffer.read())
    program, limits, uid = job["program"], job["limits"], job.get("uid")
    if uid is not None and os.getuid() != 0:
        uid = None
    results = []
    for case in job["cases"]:
        if job["syntax_error"]:
            results.append(dict(_result(case, {}), error_type="SyntaxError",
                                message=f"the program does not parse ({job['syntax_error']})"))
            continue
        request = {"program": program, "setup": case["setup"], "after": case["after"],
                   "calls": case["calls"], "echo": case["kind"] == "doctest-script",
                   "imports": case["imports"], "source": case["source"], "limits": limits,
                   "uid": uid, "paths": job["paths"], "preload": job["preload"],
                   "private_pids": job["private_pids"]}
        _send(req_w, request)
        outcome = _read_message(resp_r, time.monotonic() + float(limits["timeout_s"]) + 10)
        if not outcome:
            outcome = {"error": "HarnessError", "message": "the zygote stopped answering"}
        results.append(judge(case, outcome))
    os.close(req_w)
    os.waitpid(zpid, 0)
    _send(verdict_fd, {"results": results, "uid_isolated": uid is not None})


if __name__ == "__main__":
    main()
