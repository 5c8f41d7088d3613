"""Robustness corpus: real-life inputs generated in ``tmp_path``; each gives a result or a one-line error."""
