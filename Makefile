# The two commands: `make run` (serve on http://127.0.0.1:3000) and `make test` (the whole suite).
VENV ?= .venv
# pip constraints the venv is built with: the newest versions setup.cfg allows, what a fresh install
# gets. `make test-floor` runs the same suite in its own venv at the oldest allowed (CI runs both).
CONSTRAINTS ?= constraints/newest.txt
PYTHON := $(VENV)/bin/python
# Debian packages the tests drive: a real browser, a real Redis, a real nginx, a real PostgreSQL
# (the tests use the one on 127.0.0.1:5432, or start their own from these binaries), openssl for
# the TLS test's certificate, and systemd for `systemd-analyze` (safe in a container: its
# maintainer scripts call systemctl only where systemd runs; the tests need systemd-analyze only).
SYSTEM_PACKAGES := chromium redis-server nginx postgresql openssl systemd
SYSTEM_COMMANDS := /usr/bin/chromium /usr/bin/redis-server /usr/sbin/nginx $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb) /usr/lib/postgresql/initdb) \
	/usr/bin/openssl /usr/bin/systemd-analyze

.PHONY: run test test-floor lint deps system-deps bench bench-quick clean

run: $(VENV)/.server-installed
	$(PYTHON) -m chatserver

# PIP_CONSTRAINT: the packaging test's fresh venv installs the wheel with the same versions.
test: deps
	$(PYTHON) -m ruff check .
	PIP_CONSTRAINT=$(abspath $(CONSTRAINTS)) $(PYTHON) -m pytest

test-floor:
	$(MAKE) test VENV=.venv/floor CONSTRAINTS=constraints/floor.txt

lint: $(VENV)/.installed
	$(PYTHON) -m ruff check .

deps: $(VENV)/.installed tests/node/node_modules/.installed system-deps

# `make run`: the server and its dependencies only.
$(VENV)/.server-installed: setup.cfg setup.py $(CONSTRAINTS)
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -c $(CONSTRAINTS) -e .
	touch $@

# `make test`, `lint`, `deps`, `bench`: the server plus the test tools and gunicorn.
$(VENV)/.installed: setup.cfg setup.py $(CONSTRAINTS)
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -c $(CONSTRAINTS) -e '.[test,gunicorn]'
	touch $@

tests/node/node_modules/.installed: tests/node/package-lock.json
	npm ci --prefix tests/node --no-audit --no-fund
	touch $@

# Installs what is missing when run as root (as in CI); otherwise says what to install.
system-deps:
	@missing=""; for c in $(SYSTEM_COMMANDS); do [ -x $$c ] || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
		else \
			echo "missing:$$missing -- run: sudo apt-get install $(SYSTEM_PACKAGES)"; exit 1; \
		fi; \
	fi

# chatserver, history on (SQLite, PostgreSQL) and off, against the seed's server on Node
# (docs/performance.md); about 41 minutes, --quick 3. chatserver-pg needs PostgreSQL on 127.0.0.1:5432.
bench: $(VENV)/.installed bench/loadgen/node_modules/.installed bench/peers/node-seed/node_modules/.installed
	python3 bench/compare.py

bench-quick: $(VENV)/.installed bench/loadgen/node_modules/.installed bench/peers/node-seed/node_modules/.installed
	python3 bench/compare.py --quick

bench/%/node_modules/.installed: bench/%/package-lock.json
	npm ci --prefix bench/$* --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) build dist *.egg-info tests/node/node_modules bench/loadgen/node_modules bench/peers/node-seed/node_modules
