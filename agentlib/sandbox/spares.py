"""Sandboxes started ahead of their job, so a validation does not wait for bwrap and Python.

A spare is a complete, fresh bubblewrap sandbox whose harness has loaded and forked its
zygote, and which has joined its own new run cgroup, now waiting for a job on its stdin. Each
spare serves exactly one run and is then killed, so isolation is the same as starting one per
run: new namespaces, new tmpfs, new cgroup, new processes. Only the start-up moves out of the
critical path.

Spares are started by one long-lived daemon thread: bwrap's `--die-with-parent` is tied to
the thread that started it, so a spare started by a short-lived worker thread would die
with that thread. `AGENTLIB_SANDBOX_SPARES` caps how many wait at once (0: none).
"""

from __future__ import annotations

import atexit
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

DEFAULT_CAPACITY = 4


@dataclass
class Started:
    """A started sandbox: its process, the read end of its verdict pipe, its host workdir,
    its run cgroup (with the number of the descriptor on its OOM counter inside the sandbox),
    and whether its harness already said it was ready."""

    proc: subprocess.Popen
    verdict_r: int
    workdir: str | None = None
    cgroup: Any = None
    oom_fd: int | None = None
    ready: bool = False


def stop(started: Started) -> None:
    """Kill a started sandbox's whole session, release its descriptors, remove its cgroup."""
    try:
        os.killpg(started.proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    started.proc.wait()
    for stream in (started.proc.stdin, started.proc.stdout, started.proc.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
    try:
        os.close(started.verdict_r)
    except OSError:
        pass
    if started.cgroup is not None:
        started.cgroup.remove()


def capacity() -> int:
    """How many spares may wait at once (read from the environment at call time)."""
    try:
        return max(0, int(os.environ.get("AGENTLIB_SANDBOX_SPARES", DEFAULT_CAPACITY)))
    except ValueError:
        return DEFAULT_CAPACITY


class Spares:
    """A small pool of started sandboxes, keyed by the options their command line depends on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[tuple[Hashable, Started]] = []
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        """In a forked child: the spares belong to the parent; start afresh without them."""
        self._lock = threading.Lock()
        self._idle = []
        self._requests = queue.SimpleQueue()
        self._thread = None

    def take(self, key: Hashable) -> Started | None:
        """Return a live spare started for `key`, or None."""
        with self._lock:
            found = [i for i, (k, _) in enumerate(self._idle) if k == key]
            if not found:
                return None
            _, started = self._idle.pop(found[0])
        if started.proc.poll() is not None:
            stop(started)
            return None
        return started

    def request(self, key: Hashable, spawn: Callable[[], Started]) -> None:
        """Ask the spawner thread to start one more spare for `key`."""
        if capacity() == 0:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="agentlib-sandbox-spares",
                                                 daemon=True)
                self._thread.start()
                atexit.register(self.close)
        self._requests.put((key, spawn))

    def _serve(self) -> None:
        while True:
            key, spawn = self._requests.get()
            try:
                started = spawn()
            except Exception:  # a spare is an optimisation: a cold start will say what failed
                continue
            with self._lock:
                self._idle.append((key, started))
                excess = len(self._idle) - capacity()
                overflow = self._idle[:excess] if excess > 0 else []
                del self._idle[:len(overflow)]
            for _, old in overflow:
                stop(old)

    def close(self) -> None:
        """Stop every idle spare."""
        with self._lock:
            idle, self._idle = self._idle, []
        for _, started in idle:
            stop(started)
