"""Server mode: the same Library code against a real `chroma run` over HTTP."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentlib.errors import StoreError
from agentlib.library.store import Library
from agentlib.model import Insight

sys.path.insert(0, str(Path(__file__).parent))
from test_library import double, quadruple  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    """A real Chroma server on a free loopback port, stopped afterwards."""
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        chroma = Path(shutil.which("chroma") or "chroma")
    port = free_port()
    log = (tmp_path / "chroma.log").open("w")
    server = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "server-data"),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError as exc:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chroma run did not start: "
                                       + (tmp_path / "chroma.log").read_text()[-2000:]) from exc
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_library_over_http(chroma_server, embedder):
    library = Library(chroma_server, embedder)
    assert library.conn.server
    library.add(double())
    stored = library.add(quadruple())
    assert stored.dependencies == ["double"]
    assert library.get("quadruple").id == stored.id
    assert library.get_by_id(stored.id).name == "quadruple"
    program = library.program_for(stored)
    assert program.index("def double") < program.index("def quadruple")
    found = library.search("multiply a number by four", k=2)
    assert found[0][0].name == "quadruple" and len(found) == 2
    library.update_counters(stored.id, times_reused=1)
    assert library.get("quadruple").times_reused == 1
    insight = library.insights.add(Insight(id="", taxonomy="t", condition="c",
                                           explanation="e"))
    assert library.insights.search("c", k=1)[0][0].id == insight.id
    with pytest.raises(StoreError, match="needed by"):
        library.remove("double")
    assert library.check() == []
    again = Library(chroma_server, embedder)  # a second client sees the same library
    assert [m.name for m in again.list()] == ["double", "quadruple"]
