"""An exclusive lock file that says who holds it: pid, host, command and since when.

`fcntl.flock` on the lock file itself, so the kernel releases it when the holder dies (even
`kill -9`) and a lock is never stale. The holder writes its details into the lock file after
taking it; a process that cannot take it reads them back to say who is in the way.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from agentlib.errors import AgentlibError

log = logging.getLogger("agentlib.library")

SAY_AFTER_S = 2.0
"""A wait longer than this is reported (once) through the `agentlib.library` logger."""


class LockHeld(AgentlibError):
    """Another process holds a lock; the message says who and since when."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its lock file says."""

    pid: int
    host: str
    since: float
    command: str

    def describe(self) -> str:
        """E.g. 'pid 812 on host ci-3 (agentlib lib import x.jsonl) since 12:01:07, 45 s ago'."""
        when = time.strftime("%H:%M:%S", time.localtime(self.since))
        return (f"pid {self.pid} on host {self.host} ({self.command}) since {when}, "
                f"{max(0.0, time.time() - self.since):.0f} s ago")


def read_holder(path: Path) -> Holder | None:
    """The holder a lock file names (None: unreadable, or never written)."""
    try:
        data = json.loads(path.read_text() or "{}")
        return Holder(int(data["pid"]), str(data["host"]), float(data["since"]),
                      str(data.get("command", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _command() -> str:
    argv = [Path(sys.argv[0]).name if sys.argv else "python", *sys.argv[1:]]
    return " ".join(argv)[:200]


class OwnedLock:
    """An exclusive, non-reentrant lock on `path`; `acquire(timeout_s)` waits at most that long.

    `what` names the locked thing in messages ("the write lock of library_store");
    `error` is the LockHeld subclass raised on a timeout; `setting` names the setting that
    changes the timeout.
    """

    def __init__(self, path: Path, what: str, *, error: type[Exception] = LockHeld,
                 setting: str = "") -> None:
        self.path = Path(path)
        self.what = what
        self.error = error
        self.setting = setting
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _try(self, fd: int) -> bool:
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def acquire(self, timeout_s: float) -> None:
        """Take the lock, waiting up to `timeout_s` seconds (0: fail at once if held)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        start = time.monotonic()
        said = False
        delay = 0.01
        try:
            while not self._try(fd):
                waited = time.monotonic() - start
                holder = read_holder(self.path)
                if waited >= timeout_s:
                    raise self.error(self._refusal(holder, waited))
                if not said and waited >= SAY_AFTER_S:
                    log.warning("waiting for %s: held by %s", self.what,
                                holder.describe() if holder else "another process")
                    said = True
                time.sleep(min(delay, max(0.0, timeout_s - waited)))
                delay = min(delay * 2, 0.2)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._write_holder(fd)

    def _write_holder(self, fd: int) -> None:
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "since": time.time(), "command": _command()}).encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, record, 0)
        except OSError:  # a full disk: the lock still holds, only its label is missing
            pass

    def _refusal(self, holder: Holder | None, waited: float) -> str:
        who = holder.describe() if holder else "another process (it did not say which)"
        hint = f" (setting {self.setting})" if self.setting else ""
        if waited <= 0:
            return f"{self.what} is held by {who}"
        return f"{self.what} is held by {who}; gave up after waiting {waited:.0f} s{hint}"

    def release(self) -> None:
        """Let go of the lock (the holder's details stay in the file until the next holder)."""
        if self._fd is None:
            return
        import fcntl

        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def free(self) -> bool:
        """True when nobody holds the lock right now (takes and drops it if it can)."""
        if self._fd is not None:
            return False
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return True  # never taken
        try:
            if not self._try(fd):
                return False
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_UN)
            return True
        finally:
            os.close(fd)
