"""RunEdges.stage: timed, errors tagged with the stage, and the memory a stage freed handed back afterwards."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from nps_text.errors import failed_stage
from nps_text.stages import edges as edges_module
from nps_text.stages.edges import RunEdges, release_memory


def _rss_mib() -> int:
    match = re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text(encoding="ascii"))
    assert match
    return int(match.group(1)) // 1024


def test_every_stage_releases_memory_even_when_it_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    released: list[str] = []
    monkeypatch.setattr(edges_module, "release_memory", lambda: released.append("released"))
    edges = RunEdges(out=tmp_path, staging=tmp_path / "staging", store=None)
    with edges.stage("nps"):
        pass
    with pytest.raises(ValueError) as caught, edges.stage("comments"):
        raise ValueError("broken")
    assert failed_stage(caught.value) == "comments"
    assert released == ["released", "released"] and set(edges.timings) == {"nps", "comments"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_memory_returns_freed_heap_pages() -> None:
    """Freed heap memory below a block still in use stays resident until it is trimmed."""
    release_memory()  # free pages left by earlier tests in this process would take the blocks without growing RSS
    before = _rss_mib()
    blocks = [bytearray(4000) for _ in range(60_000)]  # ~240 MB in heap chunks (below the mmap threshold)
    pinned = bytearray(4000)  # above them: the heap cannot shrink from its top
    del blocks
    freed = _rss_mib()
    release_memory()
    assert freed - before > 100  # glibc kept the freed pages
    assert _rss_mib() < freed - 100
    assert len(pinned) == 4000


def test_earlier_objects_are_frozen_only_within_a_run_that_keeps_its_models() -> None:
    """With ``runner.release_models: false`` the per-stage collections skip what existed before the run (the kept
    models' and libraries' objects); afterwards every object is collectable again."""
    import gc

    from nps_text.stages.edges import earlier_objects_frozen

    assert gc.get_freeze_count() == 0
    with earlier_objects_frozen(True):
        assert gc.get_freeze_count() > 1000
    assert gc.get_freeze_count() == 0
    with earlier_objects_frozen(False):
        assert gc.get_freeze_count() == 0
