"""Run the agentlib CLI and SIGKILL it right after its Nth checkpoint write (a test helper).

`python tests/killpoint.py N agentlib-args…`: every write of LangGraph's SQLite checkpointer
(`put`, a checkpoint; `put_writes`, a step's pending writes) is counted, and the process kills
itself with SIGKILL right after write N returns: a crash exactly at that boundary. With N = 0
it never kills and, at exit, prints how many writes there were on stderr as `writes: K`.
The product is run unchanged; only this wrapper knows about the kill point.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading


def main() -> None:
    stop = int(sys.argv[1])
    from langgraph.checkpoint.sqlite import SqliteSaver

    count = 0
    lock = threading.Lock()

    def counted(original):
        def write(self, *args, **kwargs):
            nonlocal count
            result = original(self, *args, **kwargs)
            with lock:
                count += 1
                if count == stop:
                    os.kill(os.getpid(), signal.SIGKILL)
            return result
        return write

    SqliteSaver.put = counted(SqliteSaver.put)
    SqliteSaver.put_writes = counted(SqliteSaver.put_writes)
    atexit.register(lambda: print(f"writes: {count}", file=sys.stderr))
    from agentlib.cli import main as cli

    sys.argv = ["agentlib", *sys.argv[2:]]
    cli()


if __name__ == "__main__":
    main()
