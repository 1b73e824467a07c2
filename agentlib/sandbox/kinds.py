"""The kinds of failure a sandboxed test reports: one table for the harness and the runner.

Each kind says how the run as a whole is said to have ended (`Verdict.ended`) when one of its
tests fails that way (None: an ordinary failed test), and who may report it. "sandbox" kinds
are decided by the trusted side only: a test process that reports one as its own exception is
refused (`BadResult`), so a candidate cannot dress a failure up as a timeout or an isolation
problem. "test" kinds come from the test process (an exception its code raised).

Standard library only: the harness runs this module inside the sandbox too.
"""

KINDS = {
    # kind: (ended, reported by)
    "IsolationError": ("isolation-error", "sandbox"),  # the sandbox could not be set up
    "HarnessError": ("killed", "sandbox"),             # the zygote stopped answering
    "Timeout": ("timeout", "sandbox"),                 # wall clock
    "CPUTimeExceeded": ("timeout", "sandbox"),         # RLIMIT_CPU
    "JudgeTimeout": ("timeout", "sandbox"),            # the harness's own deadline, judging
    "MemoryLimitExceeded": ("memory", "sandbox"),      # the watch, or the run's cgroup
    "InodeLimitExceeded": ("memory", "sandbox"),       # files on the private tmpfs
    "MemoryError": ("memory", "test"),                 # RLIMIT_AS, in the test process
    "Crashed": ("crashed", "sandbox"),                 # killed by a signal
    "NoResult": ("crashed", "sandbox"),                # exited before reporting
    "BadResult": (None, "sandbox"),                    # the result broke the channel's schema
    "ShadowedName": (None, "sandbox"),                 # the program rebinds a name the test uses
    "OutputMismatch": (None, "sandbox"),               # a doctest's output differs
    "NotStandardType": (None, "test"),                 # a value of a type the channel refuses
    "OutputTooLarge": (None, "test"),                  # a result over the channel's size limit
    "SyntaxError": (None, "test"),
}

ENDED_ORDER = ("isolation-error", "killed", "timeout", "memory", "crashed")
"""When tests fail in several ways, the run is said to have ended the first way listed."""

SANDBOX_KINDS = frozenset(kind for kind, (_, who) in KINDS.items() if who == "sandbox")


def ended(kinds):
    """Return how a run whose tests failed with these kinds ended ("ok" if none says more)."""
    found = {KINDS[kind][0] for kind in kinds if kind in KINDS}
    for name in ENDED_ORDER:
        if name in found:
            return name
    return "ok"
