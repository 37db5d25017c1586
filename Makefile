# byok — the two commands: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test lint typecheck check bench local-aws clean postgres wrk chromium screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# requirements.lock pins every package to the version the tests ran with (scripts/lock.sh
# regenerates it with pip-compile); pyproject.toml keeps the floors for library users.
$(STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

## make demo: set up, start the embedded local AWS and run the whole story end to end.
demo: $(STAMP)
	$(BIN)/byok demo

## make test: set up (venv, packages, PostgreSQL test database, Chromium for the console's
## browser tests) and run lint, types and tests.
test: $(STAMP) postgres wrk chromium
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	BYOK_TEST_POSTGRES_URL="$$(scripts/ensure-postgres.sh)" $(BIN)/pytest $(PYTEST_ARGS)

postgres:
	@scripts/ensure-postgres.sh >/dev/null

## wrk: the HTTP load generator of bench/api.py (Debian package; installed when missing).
wrk:
	@scripts/ensure-wrk.sh >/dev/null

## make screenshots: refresh docs/console/*.png from the console's browser tests.
screenshots: $(STAMP) chromium
	BYOK_CONSOLE_SCREENSHOTS=docs $(BIN)/pytest tests/console/test_console_browser.py -q

## chromium: Debian's Chromium for the console's browser tests (installed when missing).
chromium:
	@scripts/ensure-chromium.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

## make bench: run every benchmark; figures print as tables and merge into bench/results.json.
bench: $(STAMP) wrk
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev,bench]' || echo "bench extra not installed: the Asherah rows say so"
	$(BIN)/python bench/envelope.py
	$(BIN)/python bench/store.py
	$(BIN)/python bench/migrate.py
	$(BIN)/python bench/scopes.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/cluster.py
	$(BIN)/python bench/cli.py
	$(BIN)/python bench/hostile.py
	@echo "figures: bench/results.json"

local-aws: $(STAMP)
	$(BIN)/byok local-aws --port 4566

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
