"""A small seccomp filter for the bubblewrap sandbox (given to `bwrap --seccomp FD`).

It refuses, with EPERM, the system calls that widen the kernel's attack surface or escape
the sandbox's memory bounds, and that no test of a pure function needs:

- new user namespaces (`unshare`, and `clone` with CLONE_NEWUSER): inside one, the code is
  root of its own namespace and may mount an unbounded tmpfs or reach more kernel code;
- `memfd_create`: anonymous in-memory files are outside the address-space limit;
- `bpf`, `perf_event_open`, `userfaultfd`, `keyctl`/`add_key`/`request_key`,
  `io_uring_setup`: large kernel interfaces with a history of privilege escalations.

`clone3` answers ENOSYS, so the C library falls back to `clone`, whose flags a filter can
read. Only x86-64 and aarch64 are described; elsewhere there is no filter (the policy says so).
"""

from __future__ import annotations

import errno
import platform
import struct

_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
_LD_ABS_W = 0x20
_JEQ = 0x15
_JGE = 0x35
_JSET = 0x45
_RET = 0x06
_CLONE_NEWUSER = 0x10000000
_X32_BIT = 0x40000000

_ARCHES = {
    # machine: (AUDIT_ARCH, {syscall: number})
    "x86_64": (0xC000003E, {"unshare": 272, "clone": 56, "clone3": 435, "memfd_create": 319,
                            "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
                            "keyctl": 250, "add_key": 248, "request_key": 249,
                            "io_uring_setup": 425}),
    "aarch64": (0xC00000B7, {"unshare": 97, "clone": 220, "clone3": 435, "memfd_create": 279,
                             "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
                             "keyctl": 219, "add_key": 217, "request_key": 218,
                             "io_uring_setup": 425}),
}
REFUSED = ("unshare", "memfd_create", "bpf", "perf_event_open", "userfaultfd", "keyctl",
           "add_key", "request_key", "io_uring_setup")


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def seccomp_program(machine: str | None = None) -> bytes | None:
    """Return the compiled BPF filter for this machine, or None where none is described."""
    machine = machine or platform.machine()
    arch = _ARCHES.get(machine)
    if arch is None:
        return None
    audit_arch, numbers = arch
    deny = _ERRNO | errno.EPERM
    ops = [_op(_LD_ABS_W, 4),                       # A = seccomp_data.arch
           _op(_JEQ, audit_arch, jt=1),             # our ABI: go on
           _op(_RET, _ERRNO | errno.ENOSYS),       # another ABI (say, i386 on x86-64)
           _op(_LD_ABS_W, 0)]                       # A = seccomp_data.nr
    if machine == "x86_64":
        ops += [_op(_JGE, _X32_BIT, jf=1), _op(_RET, _ERRNO | errno.ENOSYS)]  # x32 ABI
    for name in REFUSED:
        ops += [_op(_JEQ, numbers[name], jf=1), _op(_RET, deny)]
    ops += [_op(_JEQ, numbers["clone3"], jf=1), _op(_RET, _ERRNO | errno.ENOSYS),
            _op(_JEQ, numbers["clone"], jf=3),
            _op(_LD_ABS_W, 16),                     # A = low half of args[0]: the flags
            _op(_JSET, _CLONE_NEWUSER, jf=1),
            _op(_RET, deny),
            _op(_RET, _ALLOW)]
    return b"".join(ops)
