"""The quality layer: dedup, metrics and gates, pure functions on polars frames/columns.

- `text`: normalisation and word n-gram shingles
- `minhash`: datasketch-identical MinHash signatures and LSH banding, vectorised in numpy
- `near`: near-duplicate pairs (LSH candidates verified by exact Jaccard), in batches
- `dedup`: exact + near-duplicate removal with a matches table (the `dedup` step's core)
- `diversity`, `fidelity`, `leakage`, `utility`, `coverage`: metrics over columns
- `embeddings`: pluggable text embeddings (offline TF-IDF + SVD by default)
- `gates`: `GATE_KINDS` (one record per gate kind, beside its measure) and
  `evaluate_check`, one `checks:` entry (kind + settings) -> `CheckResult`
"""
