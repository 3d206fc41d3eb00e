# Sportello — two commands do everything: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_BIN := $(shell command -v uv 2>/dev/null)
ifeq ($(UV_BIN),)
UV_BIN := .bootstrap/bin/uv
endif
UV := UV_PYTHON_DOWNLOADS=never $(UV_BIN)
PY := .venv/bin/python
SPORTELLO := .venv/bin/sportello
export PYTHONDONTWRITEBYTECODE := 1

CHROMIUM ?= /usr/bin/chromium

.PHONY: help install browser run test fuzz screenshots lint typecheck layers check-deploy bench-seed bench clean

help:
	@echo "make run    install, migrate, load demo data on first start, serve web + worker on http://127.0.0.1:8000"
	@echo "make test   install, then lint, type-check, layer contracts and the whole test suite"
	@echo "make screenshots  regenerate the Desk's key screens into docs/img/ (a demo desk in var/screenshots/)"
	@echo "make fuzz   a longer fuzzing run of the whole API (FUZZ_EXAMPLES per operation)"

# uv itself: the one on PATH, or a private copy in a small bootstrap venv (works where the
# system pip is externally managed).
.bootstrap/bin/uv:
	@echo "uv not found: installing it into .bootstrap/"
	python3 -m venv .bootstrap
	.bootstrap/bin/python -m pip install --quiet --disable-pip-version-check uv

.venv/.synced: pyproject.toml uv.lock | $(UV_BIN)
	$(UV) sync --frozen
	@touch $@

install: .venv/.synced

run: install
	$(SPORTELLO) run

# The browser journeys (tests/browser) drive Debian's Chromium; installed here when missing.
browser:
	@test -x $(CHROMIUM) || { echo "Chromium not found: installing Debian's chromium"; \
		if [ "$$(id -u)" = 0 ]; then apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; \
		else sudo apt-get install -y chromium; fi; }

test: install browser lint typecheck layers check-deploy
	$(SPORTELLO) check --fail-level WARNING
	$(PY) -m pytest -p no:django -W ignore::pytest.PytestConfigWarning -n 2 tests/engine tests/mail
	$(PY) -m pytest -n 2 --dist loadgroup tests --ignore=tests/browser --ignore=tests/engine --ignore=tests/mail
	$(PY) -m pytest -p no:xdist tests/browser

screenshots: install browser
	$(PY) scripts/screenshots.py

FUZZ_EXAMPLES ?= 5

# The API fuzzing run (tests/api/test_fuzz.py): every operation, as admin, agent and light agent.
fuzz: install
	SPORTELLO_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -n 2 -o addopts="-p no:cacheprovider" tests/api/test_fuzz.py

lint: install
	.venv/bin/ruff check --no-cache .
	.venv/bin/ruff format --no-cache --check .

typecheck: install
	.venv/bin/mypy

layers: install
	.venv/bin/lint-imports --no-cache

check-deploy: install
	SPORTELLO_ENV=production SECRET_KEY=$$(head -c 48 /dev/urandom | base64) ALLOWED_HOSTS=desk.example.com \
		$(SPORTELLO) check --deploy --fail-level WARNING

clean:
	rm -rf .venv .bootstrap var
