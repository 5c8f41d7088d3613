"""Every example in ``nps_text``'s docstrings runs: a changed function breaks its example here, not in a reader's
hands. Modules are found by their source text (``>>>``) and imported only inside the test, one test per module."""

from __future__ import annotations

import doctest
import importlib
import io
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nps_text"


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>>" in path.read_text(encoding="utf-8"):
            parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = _modules_with_examples()


def test_examples_are_found() -> None:
    assert {"nps_text.nps", "nps_text.errors", "nps_text.writers.formats", "nps_text.ingest.table"} <= set(MODULES)


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name: str) -> None:
    module = importlib.import_module(module_name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    examples = 0
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, module_name):
        examples += len(test.examples)
        runner.run(test, out=report.write)
    results = runner.summarize(verbose=False)
    assert examples, f"{module_name} has '>>>' in its source but no example doctest finds"
    assert results.failed == 0, report.getvalue()
