"""Read the harness's verdict and turn it into `TestResult`s, trusting nothing about its shape.

The harness is trusted, but what it relays (messages, output) came from the test process, and
a harness that broke would otherwise break `run()`. So the verdict is read with a size cap
before a byte is decoded, decoded by `json` with nesting refused, and each result is checked
against the schema below; a result that does not fit becomes that test's `IsolationError`.
Every string that reaches a `TestResult` is valid UTF-8 (lone surrogates are escaped) and
capped, so writing a verdict as JSON or to a terminal can never fail.
"""

from __future__ import annotations

import json
import math
import os
import select
import struct
import time

from agentlib.model import TestResult

PER_TEST_BYTES = 128 << 10  # a result's share of the verdict's size cap
_TEXT = {"message": 4000, "stdout": 2100, "stderr": 2100}
_NUMBERS = ("wall_s", "cpu_s", "peak_memory_mb")


def clean(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters and make it encodable (lone surrogates escaped)."""
    text = text[:limit]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def read_verdict(fd: int, deadline: float, limit: int, ready_pending: bool) -> tuple[str, bytes]:
    """Read the harness's verdict frame: ("ok", data), ("timeout", b""), ("eof", what came),
    or ("too-large", b""). A leading ready byte is dropped when `ready_pending`."""
    # poll, not select: select() refuses descriptor numbers of 1024 and more, which a
    # long-lived process (a batch, the REPL, a test session) reaches.
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    got = bytearray()
    skip = 1 if ready_pending else 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timeout", b""
        if not poller.poll(remaining * 1000):
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return "eof", bytes(got)
        got += chunk
        if skip and got:
            del got[:1]
            skip = 0
        if len(got) >= 4:
            need = struct.unpack(">I", got[:4])[0]
            if need > limit:
                return "too-large", b""
            if len(got) >= 4 + need:
                return "ok", bytes(got[4:4 + need])


def _failure(test: str, why: str) -> TestResult:
    return TestResult(test=test, passed=False, error_type="IsolationError",
                      message=f"isolation-error: {why}")


def result_from(raw: object, test: str) -> TestResult:
    """Check one result of the verdict against the schema; build its TestResult."""
    if type(raw) is not dict:
        return _failure(test, "the harness's result for this test is not an object")
    passed, kind = raw.get("passed"), raw.get("error_type")
    if type(passed) is not bool or (kind is not None and (type(kind) is not str
                                                          or not kind.isidentifier()
                                                          or len(kind) > 100)):
        return _failure(test, "the harness's result for this test is malformed")
    fields: dict = {}
    for key, limit in _TEXT.items():
        value = raw.get(key, "")
        if type(value) is not str:
            return _failure(test, f"the harness's {key!r} for this test is not text")
        fields[key] = clean(value, limit)
    for key in _NUMBERS:
        value = raw.get(key, 0.0)
        if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
            return _failure(test, f"the harness's {key!r} for this test is not a time or size")
        fields[key] = float(value)
    return TestResult(test=test, passed=passed and kind is None, error_type=kind, **fields)


def results_from(data: bytes, tests: list[str]) -> list[TestResult] | str:
    """The results of a verdict for `tests` (in order), or why the verdict is unusable."""
    try:
        payload = json.loads(data)
    except (ValueError, RecursionError) as exc:
        return f"the harness's verdict is not JSON ({type(exc).__name__})"
    if type(payload) is not dict or type(payload.get("results")) is not list:
        return "the harness's verdict has no list of results"
    if len(payload["results"]) != len(tests):
        return (f"the harness returned {len(payload['results'])} results for "
                f"{len(tests)} tests")
    return [result_from(raw, test) for raw, test in zip(payload["results"], tests, strict=True)]
