# synthc developer loop. `make help` lists the targets.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: help install dev browser lint format typecheck test check ci bench quickstart clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

install: $(PY) ## install synthc with the local model
	@$(PY) -c "import llama_cpp" 2>/dev/null || echo "synthc: installing the local model's runtime (llama-cpp-python compiles once, about 6 minutes on 2 cores; pip caches it)"
	$(PY) -m pip install -q -e ".[local]"

dev: $(PY) ## install synthc with dev, local, embed and ray extras
	$(PY) -m pip install -q "torch==2.13.0"  # the CPU build first, or the embed extra pulls CUDA torch
	$(PY) -m pip install -q -e ".[dev,local,embed,ray]"

browser: ## install Debian's chromium for the report's browser test (needs root)
	@test -x /usr/bin/chromium || sh scripts/install_chromium.sh

lint: ## ruff lint
	$(VENV)/bin/ruff check synthc tests bench

format: ## apply ruff formatting
	$(VENV)/bin/ruff format synthc tests bench

typecheck: ## mypy
	$(VENV)/bin/mypy

test: ## run the whole test suite
	$(PY) -m pytest

check: ## lint, format check, types and tests: run before every commit
	$(VENV)/bin/ruff check synthc tests bench
	$(VENV)/bin/ruff format --check synthc tests bench
	$(VENV)/bin/mypy
	$(PY) -m pytest

ci: dev browser ## fresh-clone path: install dev, local, embed and ray extras and chromium, then run the whole suite
	$(PY) -m pytest

bench: ## run every benchmark (prints figures and ratios)
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

quickstart: install ## build the quickstart recipe and show its rows
	$(VENV)/bin/synthc build recipes/quickstart.yaml
	$(VENV)/bin/synthc query recipes/quickstart.yaml "select * from final limit 10"
	@echo
	@echo "Next: 'source $(VENV)/bin/activate' (or call $(VENV)/bin/synthc), then follow the tour in README.md."
	@echo "'make clean' first to start the tour from nothing built."

clean: ## remove build state of the bundled recipes (not the venv)
	rm -rf recipes/.synthc recipes/*.lock
