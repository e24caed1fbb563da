# The two commands of the README: `make up` runs the product, `make test` runs every test.
# Both create .venv and install whatever is missing (Debian packages too, when run as root).
SHELL := /bin/bash
PY_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_STAMP := $(VENV)/.apt-installed
APT_PACKAGES := git chromium

.PHONY: up test install lint eval bench clean

$(VENV)/bin/python:
	$(PY_SYS) -m venv $(VENV)

# The lock pins every package exactly (so pip never backtracks) and torch to the CPU build.
$(STAMP): $(VENV)/bin/python requirements.lock pyproject.toml
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.lock
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $(STAMP)

$(APT_STAMP): | $(VENV)/bin/python
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	else echo "not root: skipping apt-get for $(APT_PACKAGES)"; fi
	touch $(APT_STAMP)

install: $(STAMP) $(APT_STAMP)

up: install
	$(VENV)/bin/aiop up

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy controller renderer sandbox ui
	$(VENV)/bin/lint-imports

test: install lint
	$(VENV)/bin/python -m pytest -n 2 --dist loadgroup tests
	$(VENV)/bin/aiop eval --parallel 2 ../shared/eval/scenarios tests/eval-scenarios

bench: install
	$(VENV)/bin/python -m bench.loop --threads 20
	AIOP_HOME=$$(mktemp -d) $(VENV)/bin/aiop knowledge bench --threads 100000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
