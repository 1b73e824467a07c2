"""Hostile programs run through the real sandbox: each must be contained, end the way it should,
and leave the host as it was (planted files, processes, environment).

Every attack here runs only inside `agentlib.sandbox.run`, never in this process: a fork bomb
or `os.kill(-1, 9)` outside the sandbox would take the whole machine down. The fork bombs are
the last tests of the file.
"""

from __future__ import annotations

import os
import socket
import textwrap
import time
from pathlib import Path

import pytest

from agentlib.model import TestCase as Case
from agentlib.model import Verdict
from agentlib.sandbox import Limits, detect_isolation, run, runner

SMALL = dict(timeout_s=2.0, cpu_s=3, memory_mb=256, processes=16, disk_mb=8, file_mb=4)
SECRET = "s3cr3t-planted-outside-the-sandbox"
ENV_SECRET = "sk-agentlib-test-not-a-real-key"

pytestmark = pytest.mark.skipif(detect_isolation().mode != "bwrap",
                                reason="the hostile suite needs bubblewrap (CI installs it)")


def _uids_running() -> set[int]:
    """Real uids of every process on the host (the sandbox's PID namespace is visible here)."""
    uids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:"):
                uids.add(int(line.split()[1]))
    return uids


@pytest.fixture
def host(tmp_path, monkeypatch):
    """Plant secrets, record the sandbox uids used, and check the host is unchanged after."""
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "a.txt").write_text("precious")
    monkeypatch.setenv("OPENAI_API_KEY", ENV_SECRET)
    used: list[int] = []
    pick = runner._pick_uid

    def recording_pick() -> int:
        used.append(pick())
        return used[-1]

    monkeypatch.setattr(runner, "_pick_uid", recording_pick)
    before = sorted(p.name for p in Path("/tmp").glob("agentlib-sbx-*"))
    state = {"secret": secret, "keep": keep, "uids": used, "tmp": tmp_path}
    yield state
    assert secret.read_text() == SECRET
    assert sorted(p.name for p in keep.iterdir()) == ["a.txt"]
    assert (keep / "a.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["secret.txt", "keep", "home"]
                                                               if (tmp_path / "home").exists()
                                                               else ["secret.txt", "keep"])
    if os.geteuid() == 0:
        assert used, "the sandbox never picked a uid: it did not drop privileges"
    deadline = time.monotonic() + 2  # the kernel reaps the dead namespace's zombies promptly
    while set(used) & _uids_running() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not (set(used) & _uids_running()), "a sandbox process outlived its run"
    assert sorted(p.name for p in Path("/tmp").glob("agentlib-sbx-*")) == before
    assert os.environ["OPENAI_API_KEY"] == ENV_SECRET


def hostile(program: str, *tests: str, **limits) -> Verdict:
    verdict = run(textwrap.dedent(program), [Case(t) for t in tests],
                  Limits(**{**SMALL, **limits}))
    assert verdict.isolation == "bwrap"
    for result in verdict.results:
        assert SECRET not in result.message + result.stdout + result.stderr
        assert ENV_SECRET not in result.message + result.stdout + result.stderr
    return verdict


# ------------------------------------------------------------------ time


def test_infinite_loop_times_out_and_the_next_test_still_runs(host):
    verdict = hostile("""
        def f(x):
            if x == 1:
                while True:
                    pass
            return x
        """, "assert f(1) == 1", "assert f(2) == 2")
    assert verdict.ended == "timeout"
    assert [r.error_type for r in verdict.results] == ["Timeout", None]
    assert verdict.results[1].passed
    assert 1.9 < verdict.results[0].wall_s < 8  # the budget, plus slack for a loaded machine


def test_cpu_spin_inside_a_c_call_times_out(host):
    verdict = hostile("""
        import re
        def f():
            return bool(re.match(r'(a+)+$', 'a' * 64 + 'b'))
        """, "assert f() is False")
    assert verdict.ended == "timeout"
    assert verdict.results[0].error_type == "Timeout"


def test_cpu_seconds_limit_stops_a_spin_before_the_wall_clock(host):
    verdict = hostile("""
        def f():
            while True:
                pass
        """, "assert f() == 1", timeout_s=10, cpu_s=1)
    assert verdict.ended == "timeout"
    assert verdict.results[0].error_type == "CPUTimeExceeded"  # not the 10 s wall clock
    assert verdict.results[0].cpu_s < 3


def test_sleep_past_the_timeout_inside_finally_is_cut(host):
    verdict = hostile("""
        import time
        def f():
            try:
                raise ValueError("give up")
            finally:
                time.sleep(60)
        """, "assert f() == 1")
    assert verdict.ended == "timeout"
    assert verdict.results[0].error_type == "Timeout"
    assert verdict.wall_s < 10


def test_ignoring_sigterm_does_not_survive_the_timeout(host):
    verdict = hostile("""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        def f():
            while True:
                time.sleep(0.01)
        """, "assert f() == 1")
    assert verdict.ended == "timeout"
    assert verdict.results[0].error_type == "Timeout"


# ------------------------------------------------------------------ memory and output


def test_memory_bomb_in_one_allocation_is_a_memory_error(host):
    verdict = hostile("""
        def f():
            return len(bytearray(4 * 1024 ** 3))
        """, "assert f() == 0")
    assert verdict.ended == "memory"
    assert verdict.results[0].error_type == "MemoryError"


def test_memory_bomb_that_grows_is_a_memory_error(host):
    verdict = hostile("""
        def f():
            hoard = []
            while True:
                hoard.append(bytearray(8 * 1024 ** 2))
        """, "assert f() == 0")
    assert verdict.ended == "memory"
    assert verdict.results[0].error_type == "MemoryError"


def test_memory_spread_over_many_processes_is_capped_in_total(host):
    verdict = hostile("""
        import os, time
        def f():
            for _ in range(12):
                if os.fork() == 0:
                    hoard = b"x" * (150 << 20)  # written, so resident
                    time.sleep(30)
                    os._exit(0)
            time.sleep(30)
        """, "assert f() is None", "assert 1 + 1 == 2", timeout_s=10, total_memory_mb=512)
    assert verdict.ended == "memory"
    assert [r.error_type for r in verdict.results] == ["MemoryLimitExceeded", None]
    assert verdict.results[0].wall_s < 8


def test_deep_recursion_is_an_ordinary_failure(host):
    verdict = hostile("""
        def f(n):
            return f(n + 1) + 1
        """, "assert f(0) == 1")
    assert verdict.ended == "ok"
    assert verdict.results[0].error_type == "RecursionError"


def test_huge_stdout_is_capped_and_truncated(host):
    verdict = hostile("""
        import sys
        def f():
            chunk = "x" * 65536
            while True:
                sys.stdout.write(chunk)
        """, "assert f() == 1")
    result = verdict.results[0]
    assert verdict.ended == "ok"
    assert result.error_type == "OSError"
    assert "File too large" in result.message
    assert 0 < len(result.stdout) < 2100


def test_ctypes_null_pointer_crash_is_reported_as_crashed(host):
    verdict = hostile("""
        import ctypes
        def f():
            return ctypes.string_at(0)
        """, "assert f() == b''", "assert 1 == 1")
    assert verdict.ended == "crashed"
    assert verdict.results[0].error_type == "Crashed"
    assert "SIGSEGV" in verdict.results[0].message
    assert verdict.results[1].passed


# ------------------------------------------------------------------ files, network, secrets


def test_network_connect_to_a_host_loopback_port_fails(host):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    try:
        verdict = hostile(f"""
            import socket
            def f():
                socket.create_connection(("127.0.0.1", {port}), timeout=1).close()
                return "connected"
            """, 'assert f() == "connected"')
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
    assert verdict.ended == "ok"
    assert verdict.results[0].error_type == "ConnectionRefusedError"  # an empty loopback


def test_dns_lookup_fails(host):
    verdict = hostile("""
        import socket
        def f():
            return socket.getaddrinfo("example.com", 80)[0][4][0]
        """, 'assert f() == "93.184.216.34"')
    assert verdict.ended == "ok"
    assert verdict.results[0].error_type == "gaierror"


def test_reading_a_secret_file_planted_outside_fails(host):
    verdict = hostile(f"""
        def f():
            with open({str(host['secret'])!r}) as fh:
                return fh.read()
        """, f"assert f() == {SECRET!r}")
    assert verdict.ended == "ok"
    assert verdict.results[0].error_type == "FileNotFoundError"


def test_the_host_filesystem_is_not_visible(host):
    verdict = hostile(f"""
        import os
        def f():
            seen = []
            for path in [{str(host['tmp'])!r}, "/work/main", "/root/.ssh", "/home", "/etc/passwd",
                         "/etc/shadow", {str(runner.HARNESS_DIR.parents[1])!r}]:
                if os.path.exists(path):
                    seen.append(path)
            return seen
        """, "assert f() == []")
    assert verdict.passed, verdict.results[0].message


def test_writing_and_deleting_outside_the_working_directory_fails(host):
    verdict = hostile(f"""
        import os, shutil
        def f():
            done = []
            attempts = [
                lambda: open({str(host['secret'])!r}, "w").write("owned"),
                lambda: shutil.rmtree({str(host['keep'])!r}),
                lambda: open("/usr/owned", "w").write("x"),
                lambda: os.remove("/harness/harness.py"),
                lambda: open("/harness/harness.py", "a").write("x"),
                lambda: os.rename("/usr/bin", "/usr/bun"),
                lambda: os.mkdir("/etc/owned"),
            ]
            for i, attempt in enumerate(attempts):
                try:
                    attempt()
                    done.append(i)
                except OSError:
                    pass
            return done
        """, "assert f() == []")
    assert verdict.passed, verdict.results[0].message


def test_environment_variables_hold_no_keys(host):
    verdict = hostile("""
        import os
        def f():
            found = {k: v for k, v in os.environ.items() if "KEY" in k or v.startswith("sk-")}
            for pid in os.listdir("/proc"):
                try:
                    with open(f"/proc/{pid}/environ", "rb") as fh:
                        if b"sk-" in fh.read():
                            found[pid] = "leak"
                except OSError:
                    pass
            return found
        """, "assert f() == {}")
    assert verdict.passed, verdict.results[0].message


def test_filling_the_disk_in_tmp_stops_at_the_tmpfs_size(host):
    verdict = hostile("""
        import os
        def f(where):
            written = 0
            chunk = b"x" * (1 << 20)
            for i in range(10_000):
                try:
                    with open(os.path.join(where, f"fill{i}"), "wb") as fh:
                        for _ in range(4):
                            written += fh.write(chunk)
                except OSError as exc:
                    return (exc.errno, written <= 8 << 20)
        """, "assert f('/tmp') == (28, True)")
    assert verdict.passed, verdict.results[0].message


def test_filling_the_disk_in_the_working_directory_stops_at_its_size(host):
    verdict = hostile("""
        import os
        def f():
            written = 0
            chunk = b"x" * (1 << 20)
            for i in range(10_000):
                try:
                    with open(f"fill{i}", "wb") as fh:
                        for _ in range(4):
                            written += fh.write(chunk)
                except OSError as exc:
                    return (os.getcwd(), exc.errno, written <= 8 << 20)
        """, "assert f() == ('/work', 28, True)")
    assert verdict.passed, verdict.results[0].message


def test_a_new_user_namespace_is_refused(host):
    verdict = hostile("""
        import ctypes
        def f():
            libc = ctypes.CDLL(None, use_errno=True)
            refused = []
            for flags in (0x10000000, 0x10000000 | 0x00020000):  # NEWUSER, NEWUSER|NEWNS
                refused.append((libc.unshare(flags), ctypes.get_errno()))
            return refused
        """, "assert f() == [(0, 0), (0, 0)]")
    assert verdict.results[0].error_type == "AssertionError"
    assert "returned [(-1, 1), (-1, 1)]" in verdict.results[0].message  # EPERM


def test_in_memory_files_are_refused(host):
    verdict = hostile("""
        import os
        def f():
            fd = os.memfd_create("hoard")
            while True:
                os.write(fd, b"x" * (1 << 20))
        """, "assert f() is None")
    assert verdict.results[0].error_type == "PermissionError"


def test_host_paths_stay_out_of_proc(host):
    harness_dir = str(runner.HARNESS_DIR)
    verdict = hostile(f"""
        import os
        def f():
            leaks = []
            with open("/proc/self/mountinfo") as fh:
                if {harness_dir!r} in fh.read():
                    leaks.append("mountinfo")
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        with open(f"/proc/{{pid}}/cmdline", "rb") as fh:
                            if {harness_dir!r}.encode() in fh.read():
                                leaks.append("cmdline of " + pid)
                    except OSError:
                        pass
            try:
                with open("/proc/cmdline") as fh:
                    if fh.read():
                        leaks.append("kernel command line")
            except OSError:
                pass
            return leaks, os.uname().nodename
        """, "assert f() == ([], 'sandbox')")
    assert verdict.passed, verdict.results[0].message
    assert socket.gethostname() != "sandbox"  # the sandbox's name is its own


def test_inotify_on_the_shared_read_only_binds_is_refused(host):
    verdict = hostile("""
        import ctypes
        def f():
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(0)
            return (fd, ctypes.get_errno())
        """, "assert f() == (-1, 1)")  # EPERM: it would see the host's activity on /usr
    assert verdict.passed, verdict.results[0].message


def test_only_unix_and_ip_sockets_can_be_opened(host):
    verdict = hostile("""
        import socket
        FAMILIES = {"AF_VSOCK": 40, "AF_NETLINK": 16, "AF_PACKET": 17, "AF_ALG": 38,
                    "AF_KEY": 15, "AF_TIPC": 30, "AF_XDP": 44, "AF_BLUETOOTH": 31,
                    "AF_CAN": 29, "AF_APPLETALK": 5, "AF_X25": 9, "AF_RDS": 21}
        def opened():
            found = []
            for name, family in FAMILIES.items():
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_RAW):
                    try:
                        socket.socket(family, kind).close()
                        found.append(name)
                        break
                    except OSError:
                        pass
            return found
        def usable():
            a, b = socket.socketpair()
            a.sendall(b"x")
            inet = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            inet6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            for s in (a, b, inet, inet6):
                s.close()
            return True
        """, "assert opened() == []", "assert usable() is True")
    assert verdict.passed, [r.message for r in verdict.results]


# ------------------------------------------------------------------ processes


def test_killing_the_parent_is_refused_and_later_tests_run(host):
    verdict = hostile("""
        import os, signal
        def f():
            os.kill(os.getppid(), signal.SIGKILL)
            return "killed"
        """, 'assert f() == "killed"', "assert 2 + 2 == 4")
    assert verdict.ended == "ok"
    assert verdict.results[0].error_type == "PermissionError"
    assert verdict.results[1].passed


def test_kill_everything_reaches_only_the_sandbox_uid(host):
    verdict = hostile("""
        import os, signal
        def f():
            os.kill(-1, signal.SIGKILL)  # every process this uid may signal, but not itself
            return "the harness survived to judge this"
        """, 'assert f() == "the harness survived to judge this"', "assert 2 + 2 == 4")
    assert verdict.passed, verdict.results


def test_becoming_root_again_is_refused(host):
    verdict = hostile("""
        import os
        def f():
            os.setuid(0)
            return os.getuid()
        """, "assert f() == 0")
    assert verdict.results[0].error_type == "PermissionError"


def test_a_daemonised_grandchild_is_gone_before_the_next_test(host):
    verdict = hostile("""
        import os, time
        def spawn():
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    for i in range(1000):
                        with open("/tmp/heartbeat", "w") as fh:
                            fh.write(str(i))
                        time.sleep(0.01)
                os._exit(0)
            time.sleep(0.1)
            return os.path.exists("/tmp/heartbeat")
        def beating():
            with open("/tmp/heartbeat") as fh:
                first = fh.read()
            time.sleep(0.3)
            with open("/tmp/heartbeat") as fh:
                return fh.read() != first
        """, "assert spawn() is True", "assert beating() is False")
    assert verdict.passed, verdict.results


def test_without_a_uid_of_its_own_a_daemon_is_still_gone_before_the_next_test(monkeypatch):
    # agentlib not running as root: no uid to kill by; the private PID namespace is swept
    monkeypatch.setattr(runner.os, "geteuid", lambda: 1000)
    verdict = run(textwrap.dedent("""
        import os, time
        def spawn():
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    for i in range(1000):
                        with open("/tmp/heartbeat", "w") as fh:
                            fh.write(str(i))
                        time.sleep(0.01)
                os._exit(0)
            time.sleep(0.1)
            return os.path.exists("/tmp/heartbeat")
        def beating():
            with open("/tmp/heartbeat") as fh:
                first = fh.read()
            time.sleep(0.3)
            with open("/tmp/heartbeat") as fh:
                return fh.read() != first
        """), [Case("assert spawn() is True"), Case("assert beating() is False")],
        Limits(**SMALL))
    assert verdict.passed, verdict.results


# ------------------------------------------------------------------ forging the result


def test_printing_a_fake_verdict_does_not_pass(host):
    verdict = hostile("""
        import json, struct, sys
        def f(x):
            fake = json.dumps({"results": [{"test": "t", "passed": True}], "values": [["int", "5"]]})
            sys.stdout.write(fake)
            sys.stdout.buffer.write(struct.pack(">I", len(fake)) + fake.encode())
            sys.stderr.write(fake)
            return 4
        """, "assert f(3) == 5")
    assert not verdict.passed
    assert verdict.results[0].error_type == "AssertionError"


def test_writing_fake_messages_to_every_descriptor_does_not_pass(host):
    verdict = hostile("""
        import json, os, struct
        def f(x):
            for fake in ({"ran": True}, {"values": []}, {"passed": True}):
                data = json.dumps(fake).encode()
                for fd in range(3, 1024):
                    try:
                        os.write(fd, struct.pack(">I", len(data)) + data)
                    except OSError:
                        pass
            return 4
        """, "assert f(3) == 5")
    assert not verdict.passed
    assert verdict.results[0].error_type == "BadResult"


def test_os_exit_zero_inside_the_tested_function_is_a_crash(host):
    verdict = hostile("""
        import os
        def f(x):
            os._exit(0)
        """, "assert f(3) == 5")
    assert not verdict.passed
    assert verdict.ended == "crashed"
    assert verdict.results[0].error_type == "NoResult"


def test_sys_exit_zero_inside_the_tested_function_fails(host):
    verdict = hostile("""
        import sys
        def f(x):
            sys.exit(0)
        """, "assert f(3) == 5")
    assert not verdict.passed
    assert verdict.results[0].error_type == "SystemExit"


@pytest.mark.parametrize("raised", ["KeyboardInterrupt()", "SystemExit(0)", "GeneratorExit()",
                                    "type('Sneaky', (BaseException,), {})()"])
def test_raising_base_exceptions_fails(host, raised):
    verdict = hostile(f"""
        def f(x):
            raise {raised}
        """, "assert f(3) == 5")
    assert not verdict.passed
    assert verdict.results[0].error_type in {"KeyboardInterrupt", "SystemExit", "GeneratorExit",
                                             "Sneaky"}


def test_patching_builtins_and_the_harness_does_not_pass(host):
    verdict = hostile("""
        import builtins, json, sys
        main = sys.modules["__main__"]
        builtins.isinstance = lambda *a: True
        builtins.type = lambda *a: int
        main.encode = lambda value, depth=0: ["bool", True]
        main.NotStandard = Exception
        json.dumps = lambda *a, **k: '{"ran": true, "values": [["bool", true]]}'
        def f(x):
            return 4
        """, "assert f(3) == 5")
    assert not verdict.passed
    assert verdict.results[0].error_type == "AssertionError"


def test_the_expected_value_is_not_in_the_test_process_memory(host):
    verdict = hostile("""
        import gc, os
        def f(x):
            needle = "assert" + " f(3) =="
            for obj in gc.get_objects():
                if isinstance(obj, dict):
                    for value in obj.values():
                        if isinstance(value, str) and needle in value:
                            return int(value.split("==")[1])
            for pid in os.listdir("/proc"):
                try:
                    with open(f"/proc/{pid}/mem", "rb") as fh:
                        fh.read(1)
                    return -1
                except OSError:
                    pass
            return 0
        """, "assert f(3) == 71234")
    assert verdict.results[0].error_type == "AssertionError"
    assert "returned 0" in verdict.results[0].message


def test_an_always_true_eq_is_refused(host):
    verdict = hostile("""
        class Anything:
            def __eq__(self, other):
                return True
            __hash__ = object.__hash__
        def f(x):
            return Anything()
        def g(x):
            return [Anything()]
        """, "assert f(3) == 5", "assert g(3) == [5]")
    assert [r.error_type for r in verdict.results] == ["NotStandardType", "NotStandardType"]


def test_an_int_subclass_is_refused(host):
    verdict = hostile("""
        class Five(int):
            def __eq__(self, other):
                return True
            __hash__ = int.__hash__
        def f(x):
            return Five(4)
        """, "assert f(3) == 5")
    assert verdict.results[0].error_type == "NotStandardType"
    assert "Five" in verdict.results[0].message


def test_literal_special_casing_is_flagged(host):
    from agentlib.sandbox.static import special_cases_tests

    program = textwrap.dedent("""
        def add(a, b):
            if a == 2 and b == 3:
                return 5
            if (a, b) == (10, 20):
                return 30
            return 0
        """)
    tests = [Case("assert add(2, 3) == 5"), Case("assert add(10, 20) == 30")]
    assert hostile(program, *(t.source for t in tests)).passed  # the sandbox alone is fooled
    reason = special_cases_tests(program, tests)
    assert reason is not None and "add" in reason


# ------------------------------------------------------------------ forged passes through names


SHADOWS = {  # a binding form, and a test it would turn into a pass for a wrong f
    "def": ("def set(*args):\n    return 1\n", "assert set(f(1)) == set([2, 3])"),
    "lambda": ("abs = lambda x: 0\n", "assert abs(f(1) - 0.5) < 1e-6"),
    "class": ("class math:\n    def isclose(*args):\n        return True\n",
              "assert math.isclose(f(1), 0.5)"),
    "for target": ("for sorted in [lambda x: [1, 2]]:\n    pass\n",
                   "assert sorted(f(1)) == [1, 2]"),
    "walrus": ("(round := lambda *args: 3)\n", "assert round(f(1)) == 3"),
    "library module": ("def isinstance(*args):\n    return True\n\n\n",
                       "assert isinstance(f(1), int)"),
}


@pytest.mark.parametrize("form", sorted(SHADOWS))
def test_a_program_rebinding_a_name_the_test_uses_does_not_pass(host, form):
    binding, test = SHADOWS[form]
    verdict = hostile(binding + "def f(x):\n    return 'wrong'\n", test, "assert f(1) == 'wrong'")
    result = verdict.results[0]
    assert [r.error_type for r in verdict.results] == ["ShadowedName", None], result.message
    assert "at top level (line 1" in result.message


def test_a_program_rebinding_a_setup_name_does_not_pass(host):
    program = "expected = 5\n\ndef f(x):\n    return 5\n"
    verdict = run(program, [Case("assert f(1) == expected", "expected = 2"),
                            Case("assert f(1) == 5")], Limits(**SMALL))
    assert [r.error_type for r in verdict.results] == ["ShadowedName", None]
    assert "its setup's 'expected'" in verdict.results[0].message


def test_setup_names_are_judged_with_the_setup_s_values(host):
    # no static binding to refuse: the program rebinds the setup's name as it runs
    program = "globals()['expected'] = 5\n\ndef f(x):\n    return 5\n"
    verdict = run(program, [Case("assert f(1) == expected", "expected = 2")], Limits(**SMALL))
    assert verdict.results[0].error_type == "AssertionError"
    assert "f(1) returned 5" in verdict.results[0].message


# ------------------------------------------------------------------ the result channel

CHANNEL = """
import os, struct, sys

def _channel():
    for name in os.listdir("/proc/self/fd"):
        try:
            if int(name) > 2 and os.readlink(f"/proc/self/fd/{name}").startswith("pipe:"):
                return int(name)
        except OSError:  # the descriptor listdir itself used
            pass

def send_raw(data):
    sys.stdout.flush()
    fd = _channel()
    os.write(fd, struct.pack(">I", len(data)) + data)
    os._exit(0)
"""


@pytest.mark.parametrize("payload", [
    '{"error": ["ValueError"], "message": "m"}',
    '{"error": "ValueError", "message": 5, "traceback": "t"}',
    '{"error": "Timeout", "message": "a sandbox kind"}',
    '{"error": "IsolationError", "message": "a sandbox kind"}',
    '[1, 2]',
    '{"values": [["int", "1"]], "ran": true}',
    '[' * 100000 + ']' * 100000,
])
def test_a_malformed_result_fails_only_its_own_test(host, payload):
    verdict = hostile(CHANNEL + f"""
def f():
    send_raw({payload!r}.encode())

def g():
    return 1
""", "assert f() == 1", "assert g() == 1", timeout_s=4.0)
    assert [r.error_type for r in verdict.results] == ["BadResult", None]
    assert verdict.results[0].message.startswith("isolation-error: ")
    assert verdict.ended == "ok" and verdict.results[0].wall_s < 3


def test_oversized_results_fail_their_tests_not_the_run(host):
    verdict = hostile(CHANNEL + """
def f():
    send_raw(b'{"error": "ValueError", "message": "' + b"x" * 3_900_000 + b'"}')
""", "assert f() == 1", "assert f() == 2")
    assert [r.error_type for r in verdict.results] == ["BadResult", "BadResult"]
    assert all(len(r.message) < 500 for r in verdict.results)


def test_lone_surrogates_never_reach_the_verdict(host):
    import json

    verdict = hostile(CHANNEL + r"""
def f():
    raise ValueError("bad \ud800 text")

def g():
    send_raw(b'{"error": "ValueError", "message": "\\udfff"}')
""", "assert f() == 1", "assert g() == 1")
    assert [r.error_type for r in verdict.results] == ["ValueError", "ValueError"]
    assert "bad" in verdict.results[0].message
    json.dumps(verdict.to_dict(), ensure_ascii=False).encode("utf-8")  # no UnicodeEncodeError


def test_cpu_memory_and_output_figures_are_measured_not_reported(host):
    verdict = hostile(CHANNEL + """
import time
def f():
    hoard = bytearray(100 << 20)
    for i in range(0, len(hoard), 4096):
        hoard[i] = 1
    end = time.process_time() + 0.5
    while time.process_time() < end:
        pass
    print("the real output")
    send_raw(b'{"values": [["int", "1"]], "cpu_s": 0.0, "peak_memory_mb": 0.0, '
             b'"stdout": "forged", "wall_s": 0.0}')
""", "assert f() == 1", timeout_s=5.0)
    result = verdict.results[0]
    assert result.error_type == "BadResult"
    assert result.cpu_s >= 0.3 and result.wall_s >= 0.3 and result.peak_memory_mb >= 90
    assert result.stdout == "the real output\n"


def test_a_hash_flood_is_refused_quickly(host):
    verdict = hostile(CHANNEL + """
def f():
    items = ",".join(f'["int", "{i * (2 ** 61 - 1)}"]' for i in range(1, 40001))
    send_raw(('{"values": [["set", [' + items + ']]]}').encode())
""", "assert f() == set()", "assert 1 + 1 == 2")
    assert [r.error_type for r in verdict.results] == ["BadResult", None]
    assert "hash" in verdict.results[0].message
    assert verdict.wall_s < 10


# ------------------------------------------------------------------ memory outside the watch


def test_sysv_shared_memory_and_message_queues_are_refused(host):
    verdict = hostile("""
        import ctypes
        def f():
            libc = ctypes.CDLL(None, use_errno=True)
            got = []
            for call in (lambda: libc.shmget(0, 64 << 20, 0o1600),
                         lambda: libc.msgget(0, 0o1600), lambda: libc.semget(0, 1, 0o1600)):
                got.append((call(), ctypes.get_errno()))
            return got
        """, "assert f() == [(-1, 1), (-1, 1), (-1, 1)]")  # EPERM, before a byte is held
    assert verdict.passed, verdict.results[0].message


def test_processes_whose_main_thread_exited_are_watched(host):
    verdict = hostile("""
        import ctypes, os, threading, time
        def hold():
            time.sleep(0.3)  # until the main thread has exited
            block = bytearray(180 << 20)
            for i in range(0, len(block), 4096):
                block[i] = 1
            time.sleep(30)
        def f():
            for _ in range(3):
                if os.fork() == 0:
                    threading.Thread(target=hold).start()
                    ctypes.CDLL(None).pthread_exit(None)  # state Z, no VmRSS line
            time.sleep(6)
            return "held"
        """, "assert f() == 'held'", "assert 1 + 1 == 2", timeout_s=8.0, memory_mb=512,
        total_memory_mb=300)
    assert [r.error_type for r in verdict.results] == ["MemoryLimitExceeded", None]
    assert verdict.results[0].wall_s < 6


def test_a_flood_of_tiny_files_on_the_private_tmpfs_is_stopped(host):
    verdict = hostile("""
        import os
        def f():
            made = 0
            try:
                while made < 200_000:
                    os.symlink("x", f"/tmp/l{made}")
                    made += 1
            except OSError:
                pass
            return made
        """, "assert f() == 0", "assert 1 + 1 == 2", timeout_s=6.0)
    assert [r.error_type for r in verdict.results] == ["InodeLimitExceeded", None]
    assert verdict.ended == "memory"


def test_the_judge_refuses_a_huge_lazy_range(host):
    # sorted() in the judge would expand 3e8 ints (about 10 GB) in the trusted harness
    verdict = hostile("""
        def f():
            return range(3 * 10 ** 8)
        """, "assert sorted(f()) == [0]", "assert len(f()) == 0")
    assert [r.error_type for r in verdict.results] == ["BadResult", "BadResult"]
    assert "range" in verdict.results[0].message


def test_judging_has_its_own_deadline(host):
    verdict = hostile("""
        def f():
            return 10 ** 10
        def g():
            return 2
        """, "assert sum(x for x in range(f())) == 0", "assert g() == 2")
    assert [r.error_type for r in verdict.results] == ["JudgeTimeout", None]
    assert verdict.ended == "timeout" and verdict.wall_s < 15


def test_the_run_as_a_whole_has_a_hard_memory_bound(host):
    bound = next(b for b in detect_isolation().bounds if b.name == "run memory")
    if not bound.in_force:
        pytest.skip(f"no run cgroup on this host: {bound.how}")
    # the per-test watch is set far above what the run may hold: only the cgroup stops this
    verdict = hostile("""
        import os, time
        def f():
            for _ in range(6):
                if os.fork() == 0:
                    block = bytearray(180 << 20)
                    for i in range(0, len(block), 4096):
                        block[i] = 1
                    time.sleep(30)
            time.sleep(6)
            return "held"
        """, "assert f() == 'held'", "assert 1 + 1 == 2", timeout_s=8.0,
        total_memory_mb=100_000, run_memory_mb=600)
    assert [r.error_type for r in verdict.results] == ["MemoryLimitExceeded", None]
    assert "cgroup" in verdict.results[0].message


# ------------------------------------------------------------------ the kill guarantee


def test_stopping_everything_it_can_signal_does_not_let_a_process_outlive_its_test(host):
    verdict = hostile("""
        import ctypes, os, threading, time
        def stop_all():  # stop every other process of this uid: the test, and any killer
            kill = ctypes.CDLL(None).kill  # releases the GIL: the threads run side by side
            while True:
                kill(-1, 19)  # SIGSTOP
        def attack():
            if os.fork() == 0:
                os.setsid()  # out of the test's process group
                def beat():
                    for i in range(100_000):
                        with open("/tmp/heartbeat", "w") as fh:
                            fh.write(str(i))
                        time.sleep(0.01)
                threading.Thread(target=beat, daemon=True).start()
                for _ in range(3):
                    threading.Thread(target=stop_all, daemon=True).start()
                stop_all()
            time.sleep(30)  # stopped by the loop above: the test times out
        def survivors():
            me, parent = os.getpid(), os.getppid()
            uid = str(os.getuid())
            found = []
            for pid in os.listdir("/proc"):
                if pid.isdigit() and int(pid) not in (me, parent):
                    try:
                        with open(f"/proc/{pid}/status") as fh:
                            status = fh.read()
                        live = "State:\tZ" not in status
                        if live and status.split("Uid:")[1].split()[0] == uid:
                            found.append(pid)
                    except (OSError, IndexError):
                        pass
            with open("/tmp/heartbeat") as fh:
                first = fh.read()
            time.sleep(0.3)
            with open("/tmp/heartbeat") as fh:
                return found, fh.read() != first
        """, *["assert attack() is None"] * 4, "assert survivors() == ([], False)",
        timeout_s=1.0)
    # each attack races a killer of the test's uid (on a design that has one) four times
    assert [r.error_type for r in verdict.results] == ["Timeout"] * 4 + [None], verdict.results


# ------------------------------------------------------------------ fork bombs (last)


def test_fork_bomb_is_capped_by_the_process_limit(host):
    verdict = hostile("""
        import os, time
        def f():
            made = 0
            while made < 1000:
                try:
                    pid = os.fork()
                except OSError:
                    return made
                if pid == 0:
                    time.sleep(30)
                    os._exit(0)
                made += 1
            return made
        """, "assert f() < 16", processes=16)
    assert verdict.passed, verdict.results[0].message


def test_spinning_fork_bomb_times_out_and_leaves_nothing(host):
    verdict = hostile("""
        import os
        def f():
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        """, "assert f() == 1", "assert 1 + 1 == 2")
    assert verdict.ended == "timeout"
    assert [r.error_type for r in verdict.results] == ["Timeout", None]
    assert os.getpid() > 0 and time.monotonic() > 0  # still alive and scheduling
