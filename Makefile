# The two README commands. Each bootstraps .venv on a fresh machine that has only python3 and make,
# and re-running is quick when pyproject.toml has not changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-test

.PHONY: run test lint type unit bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "acscontract needs Python 3.11 or newer; this python3 is " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing acscontract with every extra and its test dependencies into $(VENV) (first run only)..."
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[all,test]'
	@touch $@

## make run: the main job, a readable summary of the operation and every check acscontract runs.
run: $(STAMP)
	@$(BIN)/acscontract run --summary --probe --lint ram_policies

## make test: lint, type-check and the project's own tests.
test: lint type unit

lint: $(STAMP)
	$(BIN)/ruff check src tests contracts bench
	$(BIN)/ruff format --check src tests contracts bench

type: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -p no:cacheprovider

bench: $(STAMP)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[all,test,bench]'
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis dist build
