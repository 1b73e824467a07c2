"""The embedded backend: a GGUF model run in-process by llama.cpp (xllamacpp).

xllamacpp embeds llama.cpp's server: it binds an HTTP listener on an ephemeral loopback port
(127.0.0.1, never another interface) that agentlib does not use; requests go through the
in-process `handle_chat_completions` call. Its logging is silenced (verbosity -1).

Every completion is streamed from a background thread while the calling thread waits for its
pieces, so the caller is never stuck inside llama.cpp: Ctrl-C (or an exception from
`on_token`) returns at once, and llama.cpp stops at its next piece (a long prompt is read to
the end first; the model stays busy, not the caller). `complete(messages, on_token=callback)`
calls `callback(text)` with each piece, in the calling thread. Loading the model waits the
same way. A prompt longer than the model's context is refused by llama.cpp before any
generation, with both token counts (an `LLMError`).
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
from pathlib import Path
from typing import Any, Callable

from agentlib.errors import LLMError
from agentlib.llm import Completion, Message

_SERVERS: dict[tuple[str, int, int], Any] = {}
_LOCK = threading.Lock()
_POLL_S = 0.1
_SETTLE_S = 1.0  # how long an interrupted caller waits for llama.cpp to stop
_DONE = object()
_RUNNING: dict[threading.Thread, threading.Event] = {}  # llama.cpp calls in flight: their stop
_RUNNING_LOCK = threading.Lock()
_AT_EXIT: list[bool] = []  # whether `_finish_running` is registered


def _start(work: Callable[[], None], what: str, stop: threading.Event) -> threading.Thread:
    """Run `work` (a call into llama.cpp) in a daemon thread that `_finish_running` knows of."""
    def run() -> None:
        try:
            work()
        finally:
            with _RUNNING_LOCK:
                _RUNNING.pop(threading.current_thread(), None)

    thread = threading.Thread(target=run, daemon=True, name=what)
    with _RUNNING_LOCK:
        if not _AT_EXIT:
            atexit.register(_finish_running)
            _AT_EXIT.append(True)
        _RUNNING[thread] = stop
    thread.start()
    return thread



def _finish_running() -> None:
    """At exit, stop the llama.cpp calls still running and wait for them to return: a thread
    inside llama.cpp when the interpreter ends crashes the process (SIGSEGV)."""
    with _RUNNING_LOCK:
        running = list(_RUNNING.items())
    for _, stop in running:
        stop.set()
    for thread, _ in running:
        thread.join()


def _wait_for(work: Callable[[], Any], what: str) -> Any:
    """Run `work` in a daemon thread; wait for it where Ctrl-C can abandon the wait."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # noqa: B036 - handed to the waiting thread
            box["error"] = exc
        finally:
            done.set()

    _start(run, what, threading.Event())
    while not done.wait(_POLL_S):
        pass
    if "error" in box:
        raise box["error"]
    return box["value"]


def _server(path: Path, threads: int, n_ctx: int):
    """Load the model once per process and return its server."""
    key = (str(path), threads, n_ctx)
    with _LOCK:
        if key in _SERVERS:
            return _SERVERS[key]
    if not path.is_file():
        raise LLMError(f"model file not found: {path}. Run `agentlib models fetch`.")

    def load():
        import xllamacpp

        with _LOCK:
            if key not in _SERVERS:
                params = xllamacpp.CommonParams()
                params.model.path = str(path)
                params.n_ctx = n_ctx
                params.n_parallel = 1
                params.cpuparams.n_threads = threads
                params.cpuparams_batch.n_threads = threads
                params.verbosity = -1
                params.hostnames = ["127.0.0.1"]
                try:
                    _SERVERS[key] = xllamacpp.Server(params)
                except Exception as exc:  # the bindings raise plain RuntimeError
                    raise LLMError(f"llama.cpp could not load {path}: {exc}") from exc
            return _SERVERS[key]

    return _wait_for(load, f"load {path.name}")


class LocalLLM:
    """A local GGUF model; greedy (temperature 0) by default, the GGUF's own chat template."""

    def __init__(self, path: str | Path, *, threads: int = 2, n_ctx: int = 8192,
                 max_tokens: int = 768) -> None:
        self.path = Path(path)
        self.name = f"local:{self.path.name}"
        self.threads = threads
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens

    def load(self) -> None:
        """Load the model now (it is otherwise loaded on the first completion)."""
        _server(self.path, self.threads, self.n_ctx)

    def complete(self, messages: list[Message], **options: Any) -> Completion:
        """Answer; options: max_tokens, temperature, seed, stop, on_token (see the module doc)."""
        server = _server(self.path, self.threads, self.n_ctx)
        request: dict[str, Any] = {
            "messages": messages,
            "max_tokens": options.get("max_tokens", self.max_tokens),
            "temperature": options.get("temperature", 0.0),
            "seed": options.get("seed", 0),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if options.get("stop"):
            request["stop"] = options["stop"]
        return _generate(server, request, options.get("on_token"), self.path.name)


def _generate(server: Any, request: dict[str, Any], on_token: Callable[[str], None] | None,
              model: str) -> Completion:
    """Stream a completion from a daemon thread, handing each piece to `on_token` here."""
    start = time.monotonic()
    pieces: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def receive(chunk: dict[str, Any]) -> bool:  # in llama.cpp's call; True stops generation
        if stop.is_set():
            return True
        if "error" in chunk:
            outcome["error"] = chunk["error"]
            return True
        outcome["usage"] = chunk.get("usage") or outcome.get("usage") or {}
        for choice in chunk.get("choices") or []:
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                pieces.put(piece)
        return False

    def run() -> None:
        try:
            with _LOCK:
                if not stop.is_set():
                    server.handle_chat_completions(request, receive)
        except BaseException as exc:  # noqa: B036 - handed to the waiting thread
            outcome["raised"] = exc
        finally:
            pieces.put(_DONE)

    thread = _start(run, f"complete {model}", stop)
    text: list[str] = []
    try:
        while True:
            try:
                piece = pieces.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if piece is _DONE:
                break
            text.append(piece)
            if on_token is not None:
                on_token(piece)
    except BaseException:  # noqa: B036 - Ctrl-C or on_token: llama.cpp stops at its next piece
        stop.set()
        thread.join(_SETTLE_S)  # generating: it returns at once; reading the prompt: not yet
        raise
    if "raised" in outcome:
        raise LLMError(f"llama.cpp failed on {model}: {outcome['raised']}") from outcome["raised"]
    if "error" in outcome:
        raise context_error(outcome["error"], model) or LLMError(
            f"llama.cpp returned an error: {str(outcome['error'])[:500]}")
    usage = outcome.get("usage") or {}
    return Completion(
        text="".join(text),
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
        latency_s=time.monotonic() - start,
    )


def context_error(error: Any, model: str) -> LLMError | None:
    """The LLMError for llama.cpp's refusal of a prompt longer than the context, else None."""
    if not isinstance(error, dict) or error.get("type") != "exceed_context_size_error":
        return None
    prompt, n_ctx = error.get("n_prompt_tokens"), error.get("n_ctx")
    counts = (f"the prompt is {prompt} tokens but {model}'s context holds {n_ctx}"
              if prompt and n_ctx else f"the prompt does not fit {model}'s context")
    return LLMError(f"{counts}; shorten the task's text (nothing was generated)")
