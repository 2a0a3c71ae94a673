# rt_jupyter — the two set-up commands are `make lab` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
LAB_PORT ?= 8888

.PHONY: lab test test-busy lint typecheck jstest pytest fuzz bench load soak serve chromium postgres js clean

# Create the virtualenv and install the package (editable, with the widget bundle built by npm).
$(STAMP): pyproject.toml js/package.json js/package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[test,lab,plot,asr,asr-base,voice,hub]"
	touch $(STAMP)

js: $(STAMP)
	cd js && npm install --no-audit --no-fund && npm run build

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; \
	fi

# The main job: JupyterLab on the quickstart notebook (local service when no OPENAI_API_KEY is set);
# as root (containers) it passes --allow-root, which Jupyter otherwise demands.
lab: $(STAMP) js
	$(VENV)/bin/jupyter lab --ServerApp.port=$(LAB_PORT) \
		$$( [ "$$(id -u)" = 0 ] && echo --allow-root ) notebooks/quickstart.ipynb

lint: $(STAMP)
	$(VENV)/bin/ruff check rt_jupyter tests benchmarks
	$(VENV)/bin/ruff format --check rt_jupyter tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The widget's TypeScript: type check and the unit tests of its pure logic (Node's test runner).
jstest: js
	cd js && npm run --silent typecheck && npm test --silent

# JupyterHub's proxy for the hub tests (npm; JupyterHub itself comes from PyPI with the test extra).
CHP := $(VENV)/chp/node_modules/.bin/configurable-http-proxy
$(CHP):
	npm install --no-audit --no-fund --silent --prefix $(VENV)/chp configurable-http-proxy@5.3.0

# PostgreSQL for the hub service's shared-database test (Debian's server; the test runs it as
# an unprivileged user in a temporary directory).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q postgresql; \
	fi

pytest: $(STAMP) js chromium postgres $(CHP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Everything the tests need, then ruff, mypy, the TypeScript unit tests and the whole pytest suite.
# It asserts behaviour, never speed: latency, throughput and capacity are `make bench` / `make load`.
test: $(STAMP) js chromium lint typecheck jstest pytest

# `make test` with one of the two cores kept busy by another process for the whole run: the
# proof that the suite does not depend on the machine's speed.
test-busy:
	@$(PYTHON) -c "while True: pass" & BUSY=$$!; \
	trap 'kill $$BUSY 2>/dev/null' EXIT INT TERM; \
	start=$$(date +%s); $(MAKE) --no-print-directory test; status=$$?; \
	echo "make test-busy: exit $$status after $$(( $$(date +%s) - start )) s with one core busy"; \
	exit $$status

# The fuzz tests with fresh random draws (make test draws the same examples every run).
fuzz: $(STAMP) js chromium
	HYPOTHESIS_PROFILE=explore $(VENV)/bin/pytest tests/hardening tests/protocol tests/test_audio_props.py $(PYTEST_ARGS)

# Every benchmark, written to benchmarks/results.md with its target and baseline.
bench: $(STAMP) js
	$(PY) -m benchmarks

# Capacity: the load levels up to the target of 100 WebSocket sessions + 10 WebRTC calls (rows of
# benchmarks/results.md), then the 10-minute memory soak.
load: $(STAMP) js chromium
	$(PY) -m benchmarks -k load
	$(MAKE) --no-print-directory soak

soak: $(STAMP) js chromium
	$(VENV)/bin/pytest -m soak --run-soak $(PYTEST_ARGS)

serve: $(STAMP)
	$(VENV)/bin/rt-jupyter serve

clean:
	rm -rf $(VENV) js/node_modules rt_jupyter/static .mypy_cache .ruff_cache .pytest_cache
