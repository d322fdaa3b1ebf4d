"""The quality layer: dedup, metrics and gates, pure functions on polars frames.

- `text`: normalisation and word n-gram shingles
- `minhash`: datasketch-identical MinHash signatures and LSH, vectorised in numpy
- `dedup`: exact + near-duplicate removal with a matches table
"""
