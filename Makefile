# Every target creates (or reuses) the project's virtualenv in .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench load docs screenshots format clean postgres fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	touch $(STAMP)

# `make demo` serves the Starlette example; APP=fastapi, APP=flask (under gunicorn, a WSGI
# server) or APP=django (the Django project under ASGI) another one, on PORT.
APP ?= starlette
PORT ?= 8000
DEMO_starlette := $(BIN)/uvicorn examples.app:app --host 127.0.0.1 --port $(PORT)
DEMO_fastapi := $(BIN)/uvicorn examples.fastapi_app:app --host 127.0.0.1 --port $(PORT)
DEMO_flask := $(BIN)/gunicorn examples.flask_app:app --bind 127.0.0.1:$(PORT) --threads 4
DEMO_django := $(BIN)/uvicorn examples.django_site.asgi:application --host 127.0.0.1 --port $(PORT)

demo: $(STAMP)
	$(if $(DEMO_$(APP)),$(DEMO_$(APP)),$(error APP must be one of: starlette fastapi flask django))

# A local PostgreSQL server for the PostgreSQL tests (Debian, as root); see .ci/postgres.
postgres:
	.ci/postgres

# pytest-xdist workers, one per core (`make test WORKERS=0` runs in one process). Each
# worker that runs a browser test starts its own Chromium and servers, on free ports.
WORKERS ?= auto
FAST := not slow and not browser and not load and not postgres

test: $(STAMP)
	$(BIN)/pytest -n $(WORKERS)

# The inner loop: no browser, no PostgreSQL, no servers under load, no slow test, and
# fewer Hypothesis examples where a test does not set its own (CONTRIBUTING.md).
test-fast: $(STAMP)
	$(BIN)/pytest -n $(WORKERS) -m "$(FAST)" --hypothesis-profile=fast

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
	$(BIN)/python benchmarks/bench_wsgi.py

# Load through uvicorn, with and without the middleware, a minute each (benchmarks/load.py).
load: $(STAMP)
	$(BIN)/python benchmarks/load.py --check

# Coverage-guided fuzzing with atheris: FUZZ_SECONDS per target, one target after another
# (docs/fuzzing.md). New corpus entries and crashing inputs go to build/fuzz/ (not kept);
# a crash stops the run; keep its input in fuzz/regressions/<target>/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= cookie request next gating linear body
FUZZ_STAMP := $(VENV)/.installed-fuzz

$(FUZZ_STAMP): $(STAMP)
	$(BIN)/python -c 'import atheris' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[fuzz]'
	touch $(FUZZ_STAMP)

fuzz: $(FUZZ_STAMP)
	@for target in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/$$target build/fuzz/crashes || exit 1; \
		echo "== fuzz $$target: $(FUZZ_SECONDS) s"; \
		$(BIN)/python -m fuzz.fuzz_$$target -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-dict=fuzz/dicts/$$target.dict -artifact_prefix=build/fuzz/crashes/$$target- \
			-print_final_stats=1 build/fuzz/$$target fuzz/corpus/$$target \
			fuzz/regressions/$$target || exit 1; \
	done

screenshots: $(STAMP)
	$(BIN)/python tools/screenshots.py

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache .hypothesis
