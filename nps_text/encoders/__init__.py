"""Encoders rebuilt from PyPI packages as torch / transformers models (offline)."""
