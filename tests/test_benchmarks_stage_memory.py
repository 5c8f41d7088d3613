"""benchmarks/stage_memory.py: each step's peak is its own (the kernel's peak mark is reset between steps)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux only")


def _module():
    spec = importlib.util.spec_from_file_location("benchmarks_stage_memory", BENCHMARKS / "stage_memory.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_big_step_does_not_raise_the_peak_of_the_steps_after_it() -> None:
    stage_memory = _module()
    memory = stage_memory.StepMemory()
    with memory.step("big"):
        block = bytearray(200 * 2**20)  # 200 MiB, touched
        del block
    with memory.step("small"):
        small = bytearray(2**20)
        del small
    assert memory.peaks["big"] >= memory.peaks["small"] + 150
    assert [row[0] for row in memory.rows] == ["big", "small"]
    report = memory.report()
    assert "big" in report and "whole run (largest peak)" in report
