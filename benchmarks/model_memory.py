"""Resident memory of the default models, loaded one after the other in one process.

Usage (from the repository root, on a quiet machine):

    python benchmarks/model_memory.py

Prints (RSS MiB, peak RSS MiB) after importing the flow, loading the default sentiment model, scoring 128
texts, loading e5-small and USE (128 texts each) and running lingua language detection.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def rss() -> tuple[int, int]:
    status = Path("/proc/self/status").read_text(encoding="ascii")
    return int(status.split("VmRSS:")[1].split()[0]) // 1024, int(status.split("VmHWM:")[1].split()[0]) // 1024


def main() -> None:
    print("python", rss(), flush=True)
    import nps_text.flow  # noqa: F401  (what every run imports)

    print("import nps_text.flow", rss(), flush=True)
    from nps_text.comments import detect_languages
    from nps_text.encoders.registry import get_encoder
    from nps_text.sentiment.base import get_sentiment_backend

    texts = ["Die Lieferung war leider viel zu spät und der Service unfreundlich.", "Great app, fast delivery!"] * 64
    backend = get_sentiment_backend("default")
    print("sentiment default loaded", rss(), flush=True)
    backend.predict_proba(texts)
    print("sentiment default after 128 texts", rss(), flush=True)
    get_encoder("e5-small").encode(texts)
    print("e5-small loaded + 128 texts", rss(), flush=True)
    get_encoder("use").encode(texts)
    print("use loaded + 128 texts", rss(), flush=True)
    detect_languages(texts)
    print("lingua de+en", rss(), flush=True)


if __name__ == "__main__":
    main()
