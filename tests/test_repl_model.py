"""Token streaming and Ctrl-C with the real small model: in-process, then in the REPL's pty."""

from __future__ import annotations

import os
import signal
import time

import pytest
from test_repl import PROMPT, Terminal, repl_env

pytestmark = pytest.mark.model

MESSAGES = [{"role": "user", "content": "Write a Python function that reverses a string."}]


@pytest.fixture(scope="module")
def llm(small_model):
    from agentlib.llm.local import LocalLLM

    return LocalLLM(small_model)


def test_streaming_hands_each_piece_to_on_token_and_matches_the_plain_answer(llm):
    plain = llm.complete(MESSAGES, max_tokens=24)
    pieces: list[str] = []
    streamed = llm.complete(MESSAGES, max_tokens=24, on_token=pieces.append)
    assert len(pieces) > 5 and all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces) == streamed.text == plain.text  # greedy: the same answer
    assert streamed.completion_tokens == plain.completion_tokens == 24
    assert streamed.prompt_tokens == plain.prompt_tokens > 0


def test_an_exception_in_on_token_stops_generation_and_propagates(llm):
    class Stop(Exception):
        pass

    pieces: list[str] = []

    def on_token(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 3:
            raise Stop

    with pytest.raises(Stop):
        llm.complete(MESSAGES, max_tokens=200, on_token=on_token)
    assert len(pieces) == 3  # never called again: generation stopped
    assert llm.complete(MESSAGES, max_tokens=4).completion_tokens == 4  # still usable


@pytest.fixture
def ctrl_c_raises():
    """Python's own SIGINT handler, as in a terminal (a runner started in the background may
    have left SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_stops_a_streamed_generation_with_keyboard_interrupt(llm, ctrl_c_raises):
    pieces: list[str] = []

    def on_token(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 3:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C in the terminal sends

    with pytest.raises(KeyboardInterrupt):
        llm.complete(MESSAGES, max_tokens=200, on_token=on_token)
    assert len(pieces) <= 4
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_ctrl_c_during_generation_in_the_repl_returns_to_the_prompt(tmp_path, small_model):
    env = repl_env(tmp_path, AGENTLIB_LLM="local", AGENTLIB_MODEL=str(small_model))
    term = Terminal(["repl"], env)
    try:
        term.wait_for(PROMPT, timeout=30)
        term.type("Write a function fib(n) returning the n-th Fibonacci number.",
                  "assert fib(10) == 55", "")
        term.wait_for("generating with local:", timeout=240)
        term.wait_for("def", timeout=240)  # tokens are streaming
        interrupted = time.monotonic()
        term.child.sendintr()
        after = term.wait_for("cancelled", timeout=30)
        assert time.monotonic() - interrupted < 10
        assert "Traceback" not in after and "passed" not in after
        term.wait_for(PROMPT)
        term.type("/lib")
        assert "0 module(s)" in term.wait_for(PROMPT)  # the cancelled task stored nothing
        assert term.quit() == 0
    finally:
        term.close()
