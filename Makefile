# ARCA — the two commands of the README: `make demo` (main job) and `make test` (every test).
# Each installs what it needs into .venv first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint unit bench conformance clean

HEARTBEAT := $(PYTHON) scripts/heartbeat.py

$(BIN)/.installed: pyproject.toml
	$(HEARTBEAT) "creating $(VENV)" $(PYTHON) -m venv $(VENV)
	$(HEARTBEAT) "upgrading pip" $(BIN)/pip install -q --upgrade pip
	$(HEARTBEAT) "installing ARCA and its dependencies" $(BIN)/pip install -q -e '.[test,lint]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/arca demo $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy arca
	$(BIN)/lint-imports

test: install
	bash scripts/ensure-services.sh
	$(MAKE) lint
	$(BIN)/pytest $(PYTEST_ARGS)

unit: install
	$(BIN)/pytest -m "not rabbitmq and not oxigraph" $(PYTEST_ARGS)

# Tempest's own API tests against a fresh testbed (also in `make test`: tests/testbed/test_testbed_tempest.py);
# prints run/passed/failed/skipped per module. MODULES="tempest.api.compute.test_versions ..." narrows it.
conformance: install
	$(BIN)/python -m arca.testbed.conformance $(MODULES)

bench: install
	$(BIN)/arca bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
