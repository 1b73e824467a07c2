"""The built-in `openai` backend against HTTP servers on loopback only.

Most tests use a tiny scripted `http.server` stub on 127.0.0.1 (to produce 5xx answers,
slow answers and malformed bodies on demand); one test, marked `model`, talks to the real
OpenAI-compatible server that xllamacpp embeds, serving the small model.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agentlib.config import Settings
from agentlib.errors import LLMError
from agentlib.llm import LLM
from agentlib.llm.openai import OpenAILLM
from agentlib.plugins import llm_factories, make_plugin_manager

MESSAGES = [{"role": "user", "content": "Say hi."}]


def _completion(text: str = "hi") -> dict:
    return {"choices": [{"message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 2}}


class Stub:
    """A loopback HTTP server answering from a script of (status, body, delay_s) replies."""

    def __init__(self, replies: list[tuple[int, object, float]]) -> None:
        self.replies = list(replies)
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                stub.requests.append({"path": self.path, "headers": dict(self.headers),
                                      "body": json.loads(self.rfile.read(length))})
                status, body, delay = stub.replies.pop(0) if stub.replies else (
                    500, "script exhausted", 0.0)
                time.sleep(delay)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def stub():
    servers: list[Stub] = []

    def make(*replies: tuple[int, object, float]) -> Stub:
        servers.append(Stub(list(replies)))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def test_success_sends_an_openai_request_and_reads_text_and_usage(stub, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    server = stub((200, _completion("hello there"), 0.0))
    llm = OpenAILLM(server.base_url, "my-model", max_tokens=32)
    completion = llm.complete(MESSAGES, stop=["\n\n"], temperature=0.2)
    assert completion.text == "hello there"
    assert (completion.prompt_tokens, completion.completion_tokens) == (7, 2)
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    assert request["body"] == {"model": "my-model", "messages": MESSAGES, "max_tokens": 32,
                               "temperature": 0.2, "stop": ["\n\n"]}
    assert isinstance(llm, LLM)


def test_a_5xx_answer_is_retried_then_succeeds(stub):
    server = stub((500, {"error": "busy"}, 0.0), (503, "warming up", 0.0),
                  (200, _completion("ok"), 0.0))
    llm = OpenAILLM(server.base_url, "m", retries=2, backoff_s=0.01)
    assert llm.complete(MESSAGES).text == "ok"
    assert len(server.requests) == 3


def test_retries_are_bounded_and_the_error_lists_each_failure(stub):
    server = stub(*[(502, "bad gateway", 0.0)] * 5)
    llm = OpenAILLM(server.base_url, "m", retries=2, backoff_s=0.01)
    with pytest.raises(LLMError, match=r"failed 3 time\(s\): HTTP 502 bad gateway"):
        llm.complete(MESSAGES)
    assert len(server.requests) == 3


def test_a_4xx_answer_fails_at_once_with_a_hint(stub):
    server = stub((401, {"error": "bad key"}, 0.0), (200, _completion(), 0.0))
    llm = OpenAILLM(server.base_url, "m", retries=3, backoff_s=0.01)
    with pytest.raises(LLMError, match=r"HTTP 401.*bad key.*OPENAI_API_KEY"):
        llm.complete(MESSAGES)
    assert len(server.requests) == 1


def test_a_slow_server_times_out_each_try_then_fails(stub):
    server = stub((200, _completion(), 1.0), (200, _completion(), 1.0))
    llm = OpenAILLM(server.base_url, "m", timeout_s=0.2, retries=1, backoff_s=0.01)
    start = time.monotonic()
    with pytest.raises(LLMError, match=r"failed 2 time\(s\): no answer within 0.2 s"):
        llm.complete(MESSAGES)
    assert time.monotonic() - start < 1.5
    assert len(server.requests) == 2


def test_a_timeout_then_an_answer_succeeds(stub):
    server = stub((200, _completion("late"), 1.0), (200, _completion("on time"), 0.0))
    llm = OpenAILLM(server.base_url, "m", timeout_s=0.3, retries=1, backoff_s=0.01)
    assert llm.complete(MESSAGES).text == "on time"


def test_connection_refused_is_a_clear_error_without_retries():
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    llm = OpenAILLM(f"http://127.0.0.1:{port}/v1", "m", retries=5, backoff_s=5.0)
    start = time.monotonic()
    with pytest.raises(LLMError, match=r"connection refused\. Is the server running"):
        llm.complete(MESSAGES)
    assert time.monotonic() - start < 2  # no back-off: refusing is not transient


@pytest.mark.parametrize("body", ["not json", {"choices": []}, {"data": 1}])
def test_a_body_that_is_not_a_completion_is_an_error(stub, body):
    server = stub((200, body, 0.0))
    with pytest.raises(LLMError, match=r"not JSON|not a chat completion"):
        OpenAILLM(server.base_url, "m", retries=0).complete(MESSAGES)


def test_a_base_url_without_scheme_is_refused():
    with pytest.raises(LLMError, match="must start with http"):
        OpenAILLM("127.0.0.1:8080/v1", "m")


def test_openai_is_registered_through_register_llms(stub):
    factories = llm_factories(make_plugin_manager(load_entry_points=False))
    server = stub((200, _completion("via the hook"), 0.0))
    llm = factories["openai"](Settings(llm="openai", base_url=server.base_url, model="x"))
    assert isinstance(llm, OpenAILLM) and llm.complete(MESSAGES).text == "via the hook"
    with pytest.raises(LLMError, match="needs --base-url"):
        factories["openai"](Settings(llm="openai", base_url=""))


@pytest.mark.model
def test_real_llama_cpp_server_on_loopback(small_model):
    """xllamacpp's embedded llama.cpp server, bound to 127.0.0.1, serving the small model."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(small_model)
    params.n_ctx = 1024
    params.n_parallel = 1
    params.cpuparams.n_threads = 2
    params.cpuparams_batch.n_threads = 2
    params.verbosity = -1
    params.hostnames = ["127.0.0.1"]
    server = xllamacpp.Server(params)
    address = server.listening_address
    assert address.startswith("http://127.0.0.1:"), address
    llm = OpenAILLM(f"{address}/v1", "small", timeout_s=120, retries=1, max_tokens=24)
    completion = llm.complete([{"role": "user", "content":
                                "Write a Python function add(a, b) returning a + b."}])
    assert "add" in completion.text  # the model answered the question it was sent
    assert completion.prompt_tokens > 0 and completion.completion_tokens > 0
