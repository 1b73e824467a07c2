"""A BERT sentence encoder in numpy: the forward pass of a sentence-transformers checkpoint.

It reproduces sentence-transformers' `Transformer → Pooling(mean) → Normalize` stack for
BERT models (tokeniser from the checkpoint's `tokenizer.json`, truncation at its
`max_seq_length`), reading the weights from `model.safetensors` through a read-only memory map:
no torch, no copy of the 90 MB file, only the pages a query touches are read.
"""

from __future__ import annotations

import json
import mmap
import struct
from pathlib import Path

import numpy as np

from agentlib.errors import StoreError

_DTYPES = {"F32": np.float32}
# Tokens per forward pass (texts sorted by length, padded to the longest of their group): small
# enough that the intermediate activations stay in cache (measured: GELU over 256 tokens at a time
# is 6x faster than over 8,192), large enough for efficient matrix products.
TOKEN_BUDGET = 512
# Abramowitz & Stegun 7.1.26: erf to within 1.5e-7 (float32 rounding is 6e-8); numpy has no erf.
_ERF = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_ERF_P = 0.3275911


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Map every float32 tensor of a safetensors file, read-only and without copying."""
    try:
        with open(path, "rb") as fh:
            size = struct.unpack("<Q", fh.read(8))[0]
            header = json.loads(fh.read(size))
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, struct.error, ValueError) as exc:
        raise StoreError(f"cannot read the embedding weights {path}: {exc}; reinstall the "
                         "package that ships them") from exc
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__" or info.get("dtype") not in _DTYPES:
            continue
        start, end = info["data_offsets"]
        dtype = np.dtype(_DTYPES[info["dtype"]])
        count = int(np.prod(info["shape"], dtype=np.int64))
        if 8 + size + end > len(data) or end - start != count * dtype.itemsize:
            raise StoreError(f"the embedding weights {path} are truncated or corrupt "
                             f"(tensor {name}); reinstall the package that ships them")
        tensors[name] = np.frombuffer(data, dtype, count, 8 + size + start).reshape(info["shape"])
    return tensors


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    var = np.square(centred).mean(-1, keepdims=True)
    centred /= np.sqrt(var + np.float32(eps))
    centred *= weight
    centred += bias
    return centred


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT's `hidden_act: gelu`, in float32."""
    z = np.abs(x) * np.float32(0.5 ** 0.5)
    t = 1.0 / (1.0 + np.float32(_ERF_P) * z)
    poly = np.full_like(t, np.float32(_ERF[-1]))
    for coefficient in reversed(_ERF[:-1]):
        poly *= t
        poly += np.float32(coefficient)
    poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z                      # 1 - erf(|x| / sqrt 2)
    erf = 1.0 - poly
    np.copysign(erf, x, out=erf)   # erf is odd
    erf += 1.0
    erf *= x
    erf *= np.float32(0.5)
    return erf


class BertEncoder:
    """Mean-pooled, unit-length sentence vectors from a sentence-transformers BERT folder."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        st_config = json.loads((folder / "sentence_bert_config.json").read_text())
        if (config.get("model_type") != "bert" or config.get("hidden_act") != "gelu"
                or not pooling.get("pooling_mode_mean_tokens")):
            raise StoreError(f"{folder} is not a mean-pooled BERT model with GELU; the numpy "
                             "encoder runs only those (use the minilm-st embedder)")
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.max_length = int(st_config["max_seq_length"])
        self.weights = read_safetensors(folder / "model.safetensors")
        self.layers = range(int(config["num_hidden_layers"]))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer.no_padding()
        self.pad_id = int(config.get("pad_token_id", 0))

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        flat = x.reshape(-1, x.shape[-1]) @ self.weights[name + ".weight"].T
        flat += self.weights[name + ".bias"]
        return flat.reshape(*x.shape[:-1], flat.shape[-1])

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return _layer_norm(x, self.weights[name + ".weight"], self.weights[name + ".bias"],
                           self.eps)

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Return the last hidden states, shape (batch, tokens, hidden)."""
        w = self.weights
        batch, length = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings.LayerNorm")
        hidden = x.shape[-1]
        width = hidden // self.heads
        padded = not mask.all()  # padded keys get the most negative float, as in transformers
        key_bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(width))

        def split(t: np.ndarray) -> np.ndarray:
            return t.reshape(batch, length, self.heads, width).transpose(0, 2, 1, 3)

        for i in self.layers:
            p = f"encoder.layer.{i}."
            q = self._linear(x, p + "attention.self.query")
            q *= scale
            k = split(self._linear(x, p + "attention.self.key"))
            v = split(self._linear(x, p + "attention.self.value"))
            scores = split(q) @ k.transpose(0, 1, 3, 2)
            if padded:
                scores += key_bias
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
            attended = self._linear(context, p + "attention.output.dense")
            attended += x
            x = self._norm(attended, p + "attention.output.LayerNorm")
            out = self._linear(_gelu(self._linear(x, p + "intermediate.dense")), p + "output.dense")
            out += x
            x = self._norm(out, p + "output.LayerNorm")
        return x

    def encode(self, texts: list[str], token_budget: int = TOKEN_BUDGET) -> np.ndarray:
        """Return one unit-length float32 vector per text, in the order given.

        Texts that fit one forward pass (a query) run it on one BLAS thread: its matrices are
        too small to share out, and on a busy machine waiting for a second thread cost 1.1 s
        of a 1.2 s query (measured); larger batches use BLAS's threads as configured.
        """
        encodings = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        if sum(map(len, encodings)) > token_budget:
            return self._encode(encodings, token_budget)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return self._encode(encodings, token_budget)

    def _encode(self, encodings: list[list[int]], token_budget: int) -> np.ndarray:
        hidden = self.weights["embeddings.word_embeddings.weight"].shape[1]
        vectors = np.zeros((len(encodings), hidden), dtype=np.float32)
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i]))
        while order:
            longest = len(encodings[order[0]])
            size = max(1, token_budget // longest)
            group, order = order[:size], order[size:]
            ids = np.full((len(group), longest), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(group), longest), dtype=np.float32)
            for row, i in enumerate(group):
                ids[row, :len(encodings[i])] = encodings[i]
                mask[row, :len(encodings[i])] = 1.0
            states = self._forward(ids, mask)
            pooled = (states * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1), 1e-9)[:, None]
            norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            vectors[group] = pooled / norms
        return vectors
