"""The harness itself: a command's exit code, output and memory as the user sees them."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.journeys.conftest import nps_text, run_command


def test_version_and_memory_are_reported(home: Path, workdir: Path) -> None:
    result = nps_text("--version", cwd=workdir, home=home, timeout=60)
    assert result.returncode == 0, result.output
    assert "nps-text" in result.stdout
    ballast = bytearray(800 * 2**20)  # the pytest process is large late in a run: it must not count
    ballast[::4096] = b"x" * len(ballast[::4096])
    big = run_command([sys.executable, "-c", "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096])"],
                      cwd=workdir, home=home, timeout=60)
    assert big.returncode == 0
    assert 290 < big.peak_rss_mib < 600
    del ballast
