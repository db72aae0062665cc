# The two commands of the contract (run, test) and the checks CI runs (lint).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# PyTorch must be the CPU build (pip finds it in the machine's wheel folder), never a CUDA download.
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint install install-runtime migrate format bench

# The runtime set (`make run`), then the development tools on top (`make test`, `make lint`): each has its
# own marker, so `make test` after `make run` installs only the development additions.
$(VENV)/.installed-runtime: requirements.txt requirements-nodeps.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	# Packages whose declared requirements are stale (see the file); what they need is in requirements.txt.
	$(PIP) install --quiet --no-deps -r requirements-nodeps.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-runtime requirements-dev.txt
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

install-runtime: $(VENV)/.installed-runtime

# Everything: the runtime set and the development tools.
install: $(VENV)/.installed-dev

migrate: install-runtime
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py seed
	$(PY) manage.py serve

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) bench/persons_load.py
