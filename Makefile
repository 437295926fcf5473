# Every target creates .venv when missing and installs into it: a fresh machine needs only
# python3 (>= 3.10) with venv. Override the interpreter with `make PYTHON=python3.12 ...`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: install engine run test lint typecheck unit autobahn bench browser-deps clean

# The editable install also compiles the frame engine (setup.py) when a C compiler is
# present, so a change to its source or types reinstalls. TIDEWIRE_NO_EXTENSIONS=1 skips it.
ENGINE_SOURCES := setup.py src/tidewire/ws/_frames_py.py src/tidewire/ws/_frames_py.pxd

$(STAMP): pyproject.toml $(ENGINE_SOURCES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,dev,speed,redis,browser,bench,metrics]'
	touch $(STAMP)

install: $(STAMP)

## Recompile only the frame engine in place (after editing _frames_py.py/.pxd).
engine: $(STAMP)
	$(PY) setup.py build_ext --inplace

## The main job: the chat example on http://$(HOST):$(PORT) with the in-memory hub.
run: $(STAMP)
	$(PY) examples/chat/server.py --host $(HOST) --port $(PORT)

## The test command (README and .ci/run): unit + integration tests, ruff, mypy --strict.
## The suite runs once per WebSocket frame engine: the compiled one when it is built,
## then wsproto's (TIDEWIRE_NO_EXTENSIONS=1).
test: $(STAMP) browser-deps unit
	$(PY) -m ruff check src tests examples autobahn bench
	$(PY) -m mypy --strict src

unit: $(STAMP)
	@if $(PY) -c "import tidewire.ws._frames_c" 2>/dev/null; then \
		echo "== tests on the compiled WebSocket engine"; \
		TIDEWIRE_NO_EXTENSIONS=0 $(PY) -m pytest -q || exit 1; \
	fi
	@echo "== tests on the wsproto WebSocket engine"
	TIDEWIRE_NO_EXTENSIONS=1 $(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check src tests examples autobahn bench

typecheck: $(STAMP)
	$(PY) -m mypy --strict src

## Debian's chromium and redis-server for the browser and scale-out tests (root only).
browser-deps:
	@bash scripts/system-deps.sh

autobahn: $(STAMP)
	$(PY) autobahn/run.py

## Ratios to aiohttp (the target of issue 8); add BENCH_ARGS=--uvloop for the uvloop table.
bench: $(STAMP)
	$(PY) bench/run.py --baseline aiohttp $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .autobahn-venv autobahn/reports autobahn/reports-client bench/results .pytest_cache .mypy_cache build
	rm -f src/tidewire/ws/_frames_c.*.so
