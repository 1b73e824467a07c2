"""The embedded backend: a GGUF model run in-process by llama.cpp (xllamacpp).

xllamacpp embeds llama.cpp's server: it binds an HTTP listener on an ephemeral loopback port
(127.0.0.1, never another interface) that agentlib does not use; requests go through the
in-process `handle_chat_completions` call. Its logging is silenced (verbosity -1).

Streaming: `complete(messages, on_token=callback)` calls `callback(text)` with each piece of
the answer as llama.cpp produces it (in the calling thread). Generation stops at the next
piece when the callback raises (the exception propagates) or, in the main thread, when Ctrl-C
is pressed (KeyboardInterrupt is raised once llama.cpp has stopped). Without `on_token`
nothing changes.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

from agentlib.errors import LLMError
from agentlib.llm import Completion, Message

_SERVERS: dict[tuple[str, int, int], Any] = {}
_LOCK = threading.Lock()


def _server(path: Path, threads: int, n_ctx: int):
    """Load the model once per process and return its server."""
    key = (str(path), threads, n_ctx)
    with _LOCK:
        if key not in _SERVERS:
            if not path.is_file():
                raise LLMError(f"model file not found: {path}. Run `agentlib models fetch`.")
            import xllamacpp

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
        }
        if options.get("stop"):
            request["stop"] = options["stop"]
        start = time.monotonic()
        if options.get("on_token") is not None:
            return _stream(server, request, options["on_token"], start)
        with _LOCK:
            response = server.handle_chat_completions(request)
        latency = time.monotonic() - start
        if not isinstance(response, dict) or "choices" not in response:
            raise LLMError(f"llama.cpp returned an error: {str(response)[:500]}")
        usage = response.get("usage", {})
        return Completion(
            text=response["choices"][0]["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            latency_s=latency,
        )


def _stream(server: Any, request: dict[str, Any], on_token: Callable[[str], None],
            start: float) -> Completion:
    """Run a streamed completion, handing each piece to `on_token`; its exceptions stop it."""
    pieces: list[str] = []
    usage: dict[str, Any] = {}
    error: dict[str, Any] | None = None
    raised: BaseException | None = None
    interrupted = threading.Event()

    def receive(chunk: dict[str, Any]) -> bool:  # True stops generation
        nonlocal error, raised, usage
        try:
            if interrupted.is_set():
                return True
            if "error" in chunk:
                error = chunk
                return True
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    pieces.append(piece)
                    on_token(piece)
            return False
        except BaseException as exc:  # noqa: B036 - the bindings would swallow it
            raised = exc
            return True

    with _ctrl_c_sets(interrupted), _LOCK:
        server.handle_chat_completions(
            {**request, "stream": True, "stream_options": {"include_usage": True}}, receive)
    if raised is not None:
        raise raised
    if interrupted.is_set():
        raise KeyboardInterrupt
    if error is not None:
        raise LLMError(f"llama.cpp returned an error: {str(error)[:500]}")
    return Completion(
        text="".join(pieces),
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
        latency_s=time.monotonic() - start,
    )


@contextlib.contextmanager
def _ctrl_c_sets(event: threading.Event):
    """In the main thread, make Ctrl-C set `event` instead of raising inside the bindings.

    A KeyboardInterrupt raised while llama.cpp calls back into Python would be printed and
    ignored by the bindings; the flag lets the callback stop generation cleanly instead.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: event.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
