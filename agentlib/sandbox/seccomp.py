"""A small seccomp filter for the bubblewrap sandbox (given to `bwrap --seccomp FD`).

It refuses, with EPERM, the system calls that widen the kernel's attack surface, escape the
sandbox's memory bounds or watch the host, and that no test of a pure function needs:

- new user namespaces (`unshare`, and `clone` with CLONE_NEWUSER): inside one, the code is
  root of its own namespace and may mount an unbounded tmpfs or reach more kernel code;
- `memfd_create` and SysV IPC (shared memory, message queues, semaphores): memory that no
  process's resident size shows;
- `inotify_init*`, `fanotify_init`: watching the read-only binds would observe the host's
  activity on the same files;
- `bpf`, `perf_event_open`, `userfaultfd`, `keyctl`/`add_key`/`request_key`,
  `io_uring_setup`: large kernel interfaces with a history of privilege escalations.

Sockets may only be AF_UNIX, AF_INET or AF_INET6 (the latter two reach only the empty network
namespace's loopback); every other family (AF_VSOCK, which no namespace confines, AF_NETLINK,
AF_PACKET, …) fails with EAFNOSUPPORT, as on a kernel without it. `clone3` answers ENOSYS, so
the C library falls back to `clone`, whose flags a filter can read. Only x86-64 and aarch64
are described; elsewhere there is no filter (the policy says so).
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
_ARG0 = 16  # offset of the low half of seccomp_data.args[0] (little-endian)
SOCKET_FAMILIES = (1, 2, 10)  # AF_UNIX, AF_INET, AF_INET6

_SYSV = ("shmget", "shmat", "shmctl", "shmdt", "semget", "semop", "semctl", "semtimedop",
         "msgget", "msgsnd", "msgrcv", "msgctl")
_ARCHES = {
    # machine: (AUDIT_ARCH, {syscall: number})
    "x86_64": (0xC000003E, {"unshare": 272, "clone": 56, "clone3": 435, "memfd_create": 319,
                            "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
                            "keyctl": 250, "add_key": 248, "request_key": 249,
                            "io_uring_setup": 425, "shmget": 29, "shmat": 30, "shmctl": 31,
                            "shmdt": 67, "semget": 64, "semop": 65, "semctl": 66,
                            "semtimedop": 220, "msgget": 68, "msgsnd": 69, "msgrcv": 70,
                            "msgctl": 71, "inotify_init": 253, "inotify_init1": 294,
                            "fanotify_init": 300, "socket": 41, "socketpair": 53}),
    "aarch64": (0xC00000B7, {"unshare": 97, "clone": 220, "clone3": 435, "memfd_create": 279,
                             "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
                             "keyctl": 219, "add_key": 217, "request_key": 218,
                             "io_uring_setup": 425, "shmget": 194, "shmat": 196, "shmctl": 195,
                             "shmdt": 197, "semget": 190, "semop": 193, "semctl": 191,
                             "semtimedop": 192, "msgget": 186, "msgsnd": 189, "msgrcv": 188,
                             "msgctl": 187, "inotify_init1": 26, "fanotify_init": 262,
                             "socket": 198, "socketpair": 199}),
}
REFUSED = ("unshare", "memfd_create", "bpf", "perf_event_open", "userfaultfd", "keyctl",
           "add_key", "request_key", "io_uring_setup", *_SYSV, "inotify_init", "inotify_init1",
           "fanotify_init")


class _Program:
    """BPF instructions with forward jumps to named labels, resolved when assembled."""

    def __init__(self) -> None:
        self.ops: list[tuple[int, int, str | None, str | None]] = []
        self.labels: dict[str, int] = {}

    def op(self, code: int, k: int, jt: str | None = None, jf: str | None = None) -> None:
        self.ops.append((code, k, jt, jf))

    def label(self, name: str) -> None:
        self.labels[name] = len(self.ops)

    def assemble(self) -> bytes:
        out = []
        for i, (code, k, jt, jf) in enumerate(self.ops):
            offsets = [0 if j is None else self.labels[j] - i - 1 for j in (jt, jf)]
            assert all(0 <= o < 256 for o in offsets), "a jump out of a BPF jump's reach"
            out.append(struct.pack("HBBI", code, offsets[0], offsets[1], k))
        return b"".join(out)


def seccomp_program(machine: str | None = None) -> bytes | None:
    """Return the compiled BPF filter for this machine, or None where none is described."""
    machine = machine or platform.machine()
    arch = _ARCHES.get(machine)
    if arch is None:
        return None
    audit_arch, numbers = arch
    deny = _ERRNO | errno.EPERM
    p = _Program()
    p.op(_LD_ABS_W, 4)                              # A = seccomp_data.arch
    p.op(_JEQ, audit_arch, jf="enosys")             # another ABI (say, i386 on x86-64)
    p.op(_LD_ABS_W, 0)                              # A = seccomp_data.nr
    if machine == "x86_64":
        p.op(_JGE, _X32_BIT, jt="enosys")           # the x32 ABI
    for name in REFUSED:
        if name in numbers:
            p.op(_JEQ, numbers[name], jt="deny")
    p.op(_JEQ, numbers["clone3"], jt="enosys")
    p.op(_JEQ, numbers["socket"], jt="socket")
    p.op(_JEQ, numbers["socketpair"], jt="socketpair")
    p.op(_JEQ, numbers["clone"], jf="allow")
    p.op(_LD_ABS_W, _ARG0)                          # A = clone's flags
    p.op(_JSET, _CLONE_NEWUSER, jt="deny", jf="allow")
    p.label("socket")
    p.op(_LD_ABS_W, _ARG0)                          # A = the address family
    for family in SOCKET_FAMILIES:
        p.op(_JEQ, family, jt="allow")
    p.op(_RET, _ERRNO | errno.EAFNOSUPPORT)
    p.label("socketpair")
    p.op(_LD_ABS_W, _ARG0)
    p.op(_JEQ, SOCKET_FAMILIES[0], jt="allow")
    p.op(_RET, _ERRNO | errno.EAFNOSUPPORT)
    p.label("enosys")
    p.op(_RET, _ERRNO | errno.ENOSYS)
    p.label("deny")
    p.op(_RET, deny)
    p.label("allow")
    p.op(_RET, _ALLOW)
    return p.assemble()
