"""A prompt longer than the model's context is refused as an LLMError that gives both counts.

The local backend's refusal comes from llama.cpp itself (it tokenizes, refuses, generates
nothing); the answer below is the one xllamacpp gave for a 1 MB prompt to the small model
(recorded; `test_integration_model.py` checks it live). The openai backend reads the same
structured answer from an OpenAI-compatible server: here a loopback stub serves it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agentlib.errors import LLMError
from agentlib.llm.local import context_error
from agentlib.llm.openai import OpenAILLM

RECORDED = {"code": 400, "message": "request (200030 tokens) exceeds the available context "
                                    "size (8192 tokens), try increasing it",
            "type": "exceed_context_size_error", "n_prompt_tokens": 200030, "n_ctx": 8192}


def test_llama_cpp_s_refusal_becomes_an_llm_error_with_the_counts():
    error = context_error(RECORDED, "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
    assert isinstance(error, LLMError)
    assert str(error).startswith("the prompt is 200030 tokens but "
                                 "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf's context holds 8192")
    assert "shorten the task" in str(error)
    assert context_error({"code": 500, "message": "boom", "type": "server_error"}, "m") is None


@pytest.fixture
def refusing_server():
    """An OpenAI-compatible endpoint on 127.0.0.1 that refuses every prompt as too long."""
    body = json.dumps({"error": RECORDED}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_the_openai_backend_refuses_with_the_counts_the_server_gives(refusing_server):
    llm = OpenAILLM(refusing_server, "small", retries=0)
    with pytest.raises(LLMError, match=r"refused the request: the prompt is 200030 tokens but "
                                       r"the model's context holds 8192; shorten"):
        llm.complete([{"role": "user", "content": "word " * 200_000}])


def test_an_openai_style_refusal_without_counts_keeps_the_server_s_words():
    from agentlib.llm.openai import context_error as openai_context_error

    body = json.dumps({"error": {"message": "This model's maximum context length is 4096 "
                                            "tokens.", "code": "context_length_exceeded"}})
    error = openai_context_error(body, "http://x/v1/chat/completions")
    assert error is not None and "maximum context length is 4096" in str(error)
    assert openai_context_error('{"error": {"code": 401}}', "u") is None
    assert openai_context_error("not json", "u") is None
