"""The in-sandbox harness: reads the job, has each test run, judges it, writes the verdict.

Process layout inside the sandbox (never in the agentlib process):

    harness (trusted: reads the job, judges results, writes the verdict on its verdict fd)
      └─ zygote (trusted, `zygote.py`: forked before the job is read, so it never holds
         expected values; forks, watches and kills the test processes)
           └─ one test process per test (untrusted, `child.py`: unprivileged uid, limits)

The harness is this module and the ones it imports (`kinds`, `channel`, `child`, `zygote`),
standard library only. The runner sends them compiled, on stdin, and the boot line registers
each under its own name, so the imports below work inside the sandbox as they do outside.

The tests arrive prepared by `agentlib.sandbox.prepare` (in the trusted agentlib process): for
an `assert` or a doctest example, only the calls of the program's own functions are evaluated
in the test process and come back as tagged values of exact built-in types; the rest — the
comparison, builtins, modules, setup names — is evaluated here, with the real objects, where
the candidate cannot reach. The judge runs under a deadline (`JudgeTimeout`) and this
process's address space is bounded (`zygote.TRUSTED_MEMORY_MB`).
"""

import _signal
import builtins
import io
import os
import sys
import time

from agentlib.sandbox.channel import (
    MAX_MESSAGE,
    BadMessage,
    decode,
    frame,
    json_loads,
    read_frame,
    short,
    write_all,
)
from agentlib.sandbox.child import import_into
from agentlib.sandbox.zygote import limit_own_memory, zygote

READY = b"R"
"""Written on the verdict fd once the zygote is forked: the sandbox may join its cgroup."""
KILL_GRACE_S = 5.0  # the zygote's sweep of a test's processes, on top of the test's budget
MAX_RESULT_MESSAGE = 3000  # characters of a result's message


class JudgeTimeout(BaseException):
    """The harness's own deadline for judging one test passed."""


def _on_alarm(signum, frame):
    raise JudgeTimeout()


def _evaluate(code, namespace, seconds):
    _signal.setitimer(_signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        return eval(code, namespace)
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0)


def _shown(value, limit=300):
    try:
        return short(repr(value), limit)
    except Exception as exc:  # a huge int, say: repr refuses it
        return f"<a {type(value).__name__} whose repr fails: {type(exc).__name__}>"


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


def _compare_output(result, want, got, expected_exc):
    if expected_exc is None and _normalise_output(got) == _normalise_output(want):
        return dict(result, passed=True)
    return dict(result, error_type="OutputMismatch",
                message=short(f"expected {want.strip()!r}, got {got.strip()!r}", 800))


def _judge_namespace(case, values):
    namespace = {"__builtins__": builtins}
    if case["setup"]:
        try:
            exec(compile(case["setup"], "<test setup>", "exec"), namespace)
        except Exception:  # setup that needs the program can only serve the program's calls
            pass
    import_into(case["imports"], namespace)
    namespace["__v"] = values
    return namespace


def judge(case, outcome, seconds):
    """Turn the zygote's outcome for one test into its result (trusted side only)."""
    if outcome is None:
        return {"passed": False, "error_type": "HarnessError",
                "message": "the zygote stopped answering"}
    result = {"passed": False, "error_type": None, "message": "", "stdout": outcome["stdout"],
              "stderr": outcome["stderr"], "wall_s": outcome["wall_s"],
              "cpu_s": outcome["cpu_s"], "peak_memory_mb": outcome["peak_memory_mb"]}
    if outcome["error"]:
        return dict(result, error_type=outcome["error"], message=outcome["message"])
    reply = outcome["result"]
    expected_exc = _expected_exception(case["want"]) if case["want"] else None
    if "error" in reply:
        if expected_exc and _raised_as_expected(expected_exc, reply["error"], reply["message"]):
            return dict(result, passed=True)
        message = reply["message"] + ("\n" + reply["traceback"] if "traceback" in reply else "")
        return dict(result, error_type=reply["error"], message=message)
    if case["kind"] in ("script", "doctest-script"):
        if "ran" not in reply:
            return dict(result, error_type="BadResult",
                        message="isolation-error: values for a test that runs whole")
        if case["kind"] == "script":
            return dict(result, passed=True)
        return _compare_output(result, case["want"], outcome["stdout"], expected_exc)
    try:
        if "values" not in reply:
            raise BadMessage("no values for a test whose calls it evaluates")
        values = [decode(v) for v in reply["values"]]
    except BadMessage as exc:
        return dict(result, error_type="BadResult",
                    message=f"isolation-error: the test process sent {exc}")
    try:
        return _judge_values(case, values, result, expected_exc, seconds)
    except JudgeTimeout:
        return dict(result, error_type="JudgeTimeout",
                    message=f"judging the values took more than {seconds:g} s")


def _judge_values(case, values, result, expected_exc, seconds):
    namespace = _judge_namespace(case, values)
    code = compile(case["judge"], "<test>", "eval")
    if case["kind"] == "doctest":
        captured, saved = io.StringIO(), sys.stdout
        sys.stdout = captured
        try:
            value = _evaluate(code, namespace, seconds)
            got = captured.getvalue() + ("" if value is None else repr(value) + "\n")
        except Exception as exc:
            if expected_exc and _raised_as_expected(expected_exc, type(exc).__name__, str(exc)):
                return dict(result, passed=True)
            return dict(result, error_type=type(exc).__name__,
                        message=short(f"evaluating the example raised: {exc}", 500))
        finally:
            sys.stdout = saved
        return _compare_output(result, case["want"], got, expected_exc)
    try:
        ok = bool(_evaluate(code, namespace, seconds))
    except Exception as exc:
        return dict(result, error_type=type(exc).__name__,
                    message=short(f"evaluating the test raised {type(exc).__name__}: {exc}", 500))
    if ok:
        return dict(result, passed=True)
    shown = ", ".join(f"{c} returned {_shown(v)}" for c, v in zip(case["calls"], values, strict=True))
    return dict(result, error_type="AssertionError",
                message=f"assertion failed: {shown}" if shown else "assertion failed")


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
    limit_own_memory()
    _signal.signal(_signal.SIGALRM, _on_alarm)
    write_all(verdict_fd, READY)
    job = json_loads(sys.stdin.buffer.read())
    sys.path[:0] = job["paths"]  # allowed packages, for the judge's setup (trusted code)
    uid = job["uid"] if os.getuid() == 0 else None
    limits = job["limits"]
    results = []
    for case in job["cases"]:
        request = {"program": job["program"], "setup": case["setup"], "after": case["after"],
                   "calls": case["calls"], "kind": case["kind"], "imports": case["imports"],
                   "source": case["source"], "limits": limits, "uid": uid,
                   "paths": job["paths"], "preload": job["preload"],
                   "private_pids": job["private_pids"], "private_tmpfs": job["private_tmpfs"],
                   "oom_fd": job["oom_fd"]}
        write_all(req_w, frame(request))
        deadline = time.monotonic() + float(limits["timeout_s"]) + KILL_GRACE_S
        status, data = read_frame(resp_r, deadline, limit=2 * MAX_MESSAGE)
        outcome = json_loads(data) if status == "ok" else None
        result = judge(case, outcome, float(limits["timeout_s"]))
        results.append(dict(result, message=short(result["message"], MAX_RESULT_MESSAGE)))
    os.close(req_w)
    os.waitpid(zpid, 0)
    write_all(verdict_fd, frame({"results": results}))
