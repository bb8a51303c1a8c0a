# Every target creates (or reuses) the project's virtualenv in .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench load docs screenshots format clean postgres

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/uvicorn examples.app:app --host 127.0.0.1 --port 8000

# A local PostgreSQL server for the PostgreSQL tests (Debian, as root); see .ci/postgres.
postgres:
	.ci/postgres

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_middleware.py
	$(BIN)/python benchmarks/bench_gating.py
	$(BIN)/python benchmarks/bench_receipts.py

# Load through uvicorn, with and without the middleware, a minute each (benchmarks/load.py).
load: $(STAMP)
	$(BIN)/python benchmarks/load.py --check

screenshots: $(STAMP)
	$(BIN)/python tools/screenshots.py

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache .hypothesis
