"""Batch runs: many tasks, several workers, results appended as they finish, SQLite checkpoints.

A batch writes `results.jsonl` (one line per task, fsync'd) and checkpoints every graph step
to `results.jsonl.checkpoints.sqlite` (WAL mode, one LangGraph thread per task id). After a
crash, `--resume` keeps the finished lines, rebuilds a result whose graph had finished but
whose line was not written, continues a graph that stopped between nodes from its last
checkpoint, and starts the rest.

One run writes a results file at a time: `results.jsonl.lock` is held for the whole batch,
and a second run says who holds it. A library or model server that stays down through its
retries (settings server_timeout_s, server_retries) gives that task an error line marked
`"outage"` and the batch goes on; `--resume` runs those tasks again.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from agentlib.agent.taskfile import TaskLine
from agentlib.errors import AgentlibError, TaskFormatError
from agentlib.library.locking import LockHeld, OwnedLock

ALLOWED_TYPES = [("agentlib.model", name) for name in (
    "Task", "TestCase", "TestResult", "Verdict", "Module", "Attempt", "TraceStep", "Insight",
    "Reply", "Rejection", "Hit", "Fallback", "Check")] + [
    ("agentlib.agent.state", "CrossCheck"), ("agentlib.verify.evidence", "Evidence"),
    ("agentlib.verify.evidence", "Counterexample")]


@dataclass
class BatchCounts:
    """Running totals of a batch, for the progress bar and the summary."""

    done: int = 0
    solved: int = 0
    reused: int = 0
    failed: int = 0
    error: int = 0
    skipped: int = 0
    completion_tokens: int = 0
    evolved: int = 0
    errors: list[str] = field(default_factory=list)


class ResultsLocked(LockHeld):
    """Another run is writing the same results file."""


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name + ".checkpoints.sqlite")


def open_checkpointer(path: Path):
    """A SQLite checkpointer in WAL mode that may deserialize agentlib's own records only."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(str(path), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    serde = JsonPlusSerializer(allowed_msgpack_modules=ALLOWED_TYPES)
    return SqliteSaver(conn, serde=serde)


def done_ids(out: Path) -> set[str]:
    """Ids already in a results file (a line cut short by a crash, or an outage's error
    line, does not count)."""
    ids: set[str] = set()
    if not out.exists():
        return ids
    with out.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                record = json.loads(line)
                if not record.get("outage"):
                    ids.add(str(record["id"]))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
    return ids


def drop_outage_lines(out: Path) -> None:
    """Rewrite the results file without the error lines of outages (they run again)."""
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)

    def outage(line: str) -> bool:
        try:
            return bool(json.loads(line).get("outage"))
        except (ValueError, AttributeError):
            return False

    kept = [line for line in lines if not outage(line)]
    if len(kept) != len(lines):
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text("".join(kept), encoding="utf-8")
        os.replace(tmp, out)


def lock_results(out: Path) -> OwnedLock:
    """Take the results file's lock at once, or raise ResultsLocked saying who holds it."""
    lock = OwnedLock(out.with_name(out.name + ".lock"), f"{out} (another batch writes it)",
                     error=ResultsLocked)
    lock.acquire(0)
    return lock


def _outage(exc: AgentlibError) -> str:
    """'library' or 'model' when `exc` says a server stayed down; '' otherwise."""
    from agentlib.library.remote import LibraryUnavailable
    from agentlib.llm.openai import ModelServerUnavailable

    if isinstance(exc, LibraryUnavailable):
        return "library"
    return "model" if isinstance(exc, ModelServerUnavailable) else ""


def drop_partial_line(out: Path) -> None:
    """Remove a last line that a crash left without its newline."""
    data = out.read_bytes()
    if data and not data.endswith(b"\n"):
        with out.open("r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)


def shard(lines: list[TaskLine], index: int, count: int) -> list[TaskLine]:
    """Return the index-th (1-based) of `count` round-robin slices of a task list."""
    if not 1 <= index <= count:
        raise TaskFormatError(f"shard {index}/{count}: I must be between 1 and N")
    return [line for n, line in enumerate(lines) if n % count == index - 1]


def _maybe_evolve(agent: Any, counts: BatchCounts) -> None:
    """Every `evolve_every` tasks, refine or retire insights that mislead more than help."""
    settings = agent.settings
    every = settings.evolve_every
    if (every <= 0 or counts.done % every or not settings.use_insights
            or agent.library is None):
        return
    from agentlib.refactor.evolve import evolve_insights, needs_evolution

    if any(needs_evolution(i) for i in agent.library.insights.list()):
        counts.evolved += len(evolve_insights(
            agent.library, agent.llm(), max_distance=agent.settings.insight_max_distance))


def run_batch(agent: Any, lines: list[TaskLine], out: Path | None, *, resume: bool = False,
              workers: int = 1,
              on_result: Callable[[dict[str, Any], BatchCounts], None] | None = None
              ) -> BatchCounts:
    """Solve every task line not yet in `out`, appending one JSON result per task.

    `out=None` writes the results to standard output, without checkpoints (nothing resumes).
    """
    if out is None:
        return _run_batch(agent, lines, None, False, workers, on_result)
    lock = lock_results(out)
    try:
        return _run_batch(agent, lines, out, resume, workers, on_result)
    finally:
        lock.release()


def _run_batch(agent: Any, lines: list[TaskLine], out: Path | None, resume: bool, workers: int,
               on_result: Callable[[dict[str, Any], BatchCounts], None] | None) -> BatchCounts:
    counts = BatchCounts()
    finished: set[str] = set()
    if out is not None:
        finished = done_ids(out) if resume else set()
        if resume and out.exists():
            drop_partial_line(out)
            drop_outage_lines(out)
        elif out.exists():
            out.unlink()
        ck_path = checkpoint_path(out)
        if not resume and ck_path.exists():
            for suffix in ("", "-wal", "-shm"):
                Path(str(ck_path) + suffix).unlink(missing_ok=True)
        agent.checkpointer = open_checkpointer(ck_path)
    counts.skipped = sum(1 for line in lines if line.id in finished)
    todo = [line for line in lines if line.id not in finished]
    lock = threading.Lock()
    with (out.open("a", encoding="utf-8") if out is not None
          else contextlib.nullcontext(sys.stdout)) as fh:

        def solve(line: TaskLine) -> dict[str, Any]:
            """Solve one task; any error while solving it becomes its error line."""
            if line.task is None:
                return {"id": line.id, "status": "error", "decision": None, "error": line.error}
            try:
                return agent.solve(line.task, thread_id=line.id).to_record()
            except AgentlibError as exc:  # a bad task, the LLM, the sandbox, a plugin
                line_ = {"id": line.id, "status": "error", "decision": None, "error": str(exc)}
                outage = _outage(exc)
                return {**line_, "outage": outage} if outage else line_
            except Exception as exc:  # noqa: BLE001 - a bug shows in its line, the rest run
                return {"id": line.id, "status": "error", "decision": None,
                        "error": f"unexpected {type(exc).__name__}: {exc}"}

        def record(result: dict[str, Any]) -> None:
            with lock:
                fh.write(json.dumps(result) + "\n")
                fh.flush()
                if out is not None:
                    os.fsync(fh.fileno())
                counts.done += 1
                status = result["status"]
                if status == "solved":
                    counts.solved += 1
                    counts.reused += result.get("decision") == "reused"
                elif status == "failed":
                    counts.failed += 1
                else:
                    counts.error += 1
                    counts.errors.append(f"{result['id']}: {result.get('error')}")
                counts.completion_tokens += int(result.get("completion_tokens") or 0)
                try:
                    _maybe_evolve(agent, counts)
                except AgentlibError as exc:
                    if not _outage(exc):
                        raise
                    counts.errors.append(f"insight evolution skipped: {exc}")
                if on_result:
                    on_result(result, counts)

        if workers <= 1:
            for line in todo:
                record(solve(line))
        else:
            pool = ThreadPoolExecutor(max_workers=workers)
            try:
                for future in as_completed([pool.submit(solve, line) for line in todo]):
                    record(future.result())
            finally:  # on Ctrl-C or a failed write: start nothing more, wait for nothing
                pool.shutdown(wait=False, cancel_futures=True)
    return counts
