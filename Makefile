# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit web bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/synack tour

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

# The playground (web/dist, docs: README "Playground"): Pyodide from web/package-lock.json
# (npm ci), synack's pure-Python packages, the page.  Needs node and npm.
web: $(STAMP)
	$(BIN)/python -m synack.webserve

# The browser tests (tests/web) need web/dist: built first wherever npm is (and always
# under CI, where a missing npm is a failure); elsewhere they skip and say why.
unit: $(STAMP)
	@if command -v npm >/dev/null 2>&1 || [ "$$CI" = true ]; then \
		$(MAKE) --no-print-directory web; \
	else echo "make: no npm here: web/dist not built (the browser tests skip)"; fi
	$(BIN)/python -m pytest

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/run.py

# The fuzzer (docs/FUZZ.md), for FUZZ_MINUTES (not in CI: `make test` runs a short
# version, tests/test_fuzz_smoke.py).  FUZZ_ARGS adds options: --seed N, --strict...
FUZZ_MINUTES ?= 10
fuzz: $(STAMP)
	$(BIN)/python scripts/fuzz.py --minutes $(FUZZ_MINUTES) $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache web/dist web/dist.tmp web/node_modules
