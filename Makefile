# One-command workflows; every target bootstraps .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint fmt typecheck bench worker migrate seed clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/ludus db upgrade
	$(BIN)/ludus demo seed
	$(BIN)/ludus serve --host 127.0.0.1 --port 8000

test: $(STAMP)
	$(BIN)/pytest -n $${PYTEST_WORKERS:-2} $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP)
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

worker: $(STAMP)
	$(BIN)/ludus worker

migrate: $(STAMP)
	$(BIN)/ludus db upgrade

seed: $(STAMP)
	$(BIN)/ludus demo seed

clean:
	rm -rf $(VENV) .ludus .pytest_cache .mypy_cache .ruff_cache
