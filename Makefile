# nps-text: the two set-up commands are `make demo` (install + run on the bundled samples) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out

.PHONY: install demo test lint typecheck bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "nps-text needs Python >= 3.11, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of PyTorch, pinned first: an unpinned torch pulls gigabytes of CUDA packages.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: install
	$(BIN)/nps-text run data/demo_de.csv --out $(OUT)/demo_de
	$(BIN)/nps-text run data/sample_reviews_en.csv --out $(OUT)/sample_reviews_en

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check nps_text tests benchmarks flows data
	$(BIN)/mypy nps_text

bench: install
	$(BIN)/python benchmarks/sentiment.py
	$(BIN)/python benchmarks/themes.py

clean:
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache
