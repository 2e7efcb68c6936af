# The three commands a user needs: `make run`, `make test`, `make bench` (and `make install`, used by all three).
# With DATABASE_URL unset each runs against the project's own PostgreSQL (whatsapp_project/localdb.py): `make run`
# keeps its cluster in var/postgres, `make test` and `make bench` use a throwaway one.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Django 6 needs Python 3.12+; use the first one found (pyenv installs included).
PYTHON_BOOT ?= $(shell for p in python3.12 python3.13 python3.14 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3) $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3) python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { echo $$p; break; }; done)
PYTEST_ARGS ?= -n 2

.PHONY: install run test test-here bench bench-tools lint typecheck browser check

install: $(VENV)/.installed node_modules/.package-lock.json

# Browser libraries (package.json) are installed from the npm registry, never committed; settings serve them.
node_modules/.package-lock.json: package.json package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Debian's Node.js and npm for the browser libraries"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
		else echo "npm is needed for the browser libraries: install Node.js 18+ and npm (apt-get install nodejs npm)"; exit 1; fi; \
	fi
	npm ci --no-audit --no-fund --loglevel=error

$(VENV)/.installed: pyproject.toml constraints.txt
	@if [ -z "$(PYTHON_BOOT)" ]; then echo "Python 3.12 or newer is required (python3.12 on PATH, or PYTHON_BOOT=/path/to/python3.12)."; exit 1; fi
	@if [ ! -x $(PY) ]; then echo "Creating $(VENV) with $(PYTHON_BOOT)"; $(PYTHON_BOOT) -m venv $(VENV); fi
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $@

LOCALDB := $(PY) -m whatsapp_project.localdb

run: install
	$(LOCALDB) --data var/postgres --database whatsapp -- $(PY) scripts/devserver.py

# Debian's Chromium for the browser tests; installed when missing and we may (root), otherwise those tests skip.
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Debian's chromium for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium not found: browser tests will be skipped (apt-get install chromium)"; fi; \
	fi

test: install browser
	$(LOCALDB) --throwaway --no-fsync -- $(MAKE) --no-print-directory test-here

# The suite against DATABASE_URL as it is (make test sets it); pytest-xdist gives each worker its own database.
test-here:
	TESTING=true $(PY) manage.py makemigrations --check --dry-run >/dev/null || { echo "Model changes without migrations: run manage.py makemigrations"; exit 1; }
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy .

check: lint typecheck test

# wrk drives the HTTP benchmarks: a C load generator leaves the 2 cores to the server under test.
bench-tools:
	@if ! command -v wrk >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing wrk for the HTTP benchmarks"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	fi

bench: install bench-tools
	DATABASE_URL="$${DATABASE_URL:-$${BENCH_DATABASE_URL:-}}" $(LOCALDB) --throwaway -- $(PY) bench/run.py
