# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit install clean bench browser

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/edgeloop demo $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy src

# the browser tests drive Debian's chromium (no browser is downloaded at run time); a Modbus test reads the
# simulator with Debian's mbpoll, an independent client
browser:
	@command -v chromium >/dev/null || { echo "installing chromium for the browser tests"; \
	  export DEBIAN_FRONTEND=noninteractive; (apt-get install -y -qq chromium || (apt-get update -qq && apt-get install -y -qq chromium)) >/dev/null; }
	@command -v mbpoll >/dev/null || { echo "installing mbpoll for the Modbus tests"; \
	  export DEBIAN_FRONTEND=noninteractive; (apt-get install -y -qq mbpoll || (apt-get update -qq && apt-get install -y -qq mbpoll)) >/dev/null; }

# the integration and e2e tests (by mark or folder) share the brokers and the database: one at a time, after the
# rest, which run on both cores (pytest-xdist); exit code 5 is "no test selected" (PYTEST_ARGS="-k ...")
test: lint typecheck browser
	$(BIN)/pytest -m "not integration and not e2e" -n 2 $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/pytest -m "integration or e2e" $(PYTEST_ARGS) || [ $$? -eq 5 ]

unit: $(STAMP)
	$(BIN)/pytest -m "not integration and not e2e" -n 2 $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/edgeloop bench throughput

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
