# Every target creates .venv when missing and installs into it: a fresh machine needs only
# python3 (>= 3.10) with venv. Override the interpreter with `make PYTHON=python3.12 ...`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: install run test lint typecheck unit autobahn bench browser-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,dev,speed,redis,browser,bench,metrics]'
	touch $(STAMP)

install: $(STAMP)

## The main job: the chat example on http://$(HOST):$(PORT) with the in-memory hub.
run: $(STAMP)
	$(PY) examples/chat/server.py --host $(HOST) --port $(PORT)

## The test command (README and .ci/run): unit + integration tests, ruff, mypy --strict.
test: $(STAMP) browser-deps
	$(PY) -m pytest -q
	$(PY) -m ruff check src tests examples autobahn bench
	$(PY) -m mypy --strict src

unit: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check src tests examples autobahn bench

typecheck: $(STAMP)
	$(PY) -m mypy --strict src

## Debian's chromium and redis-server for the browser and scale-out tests (root only).
browser-deps:
	@bash scripts/system-deps.sh

autobahn: $(STAMP)
	$(PY) autobahn/run.py

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .autobahn-venv autobahn/reports bench/results .pytest_cache .mypy_cache
