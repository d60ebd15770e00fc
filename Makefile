# Leadshare — the two commands that matter: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-dev translations lint migrate messages clean

## make run: fresh machine -> running demo (web, worker, beat) with logins
run: export DEBUG ?= 1
run: export LEADSHARE_PORT := $(PORT)
run: export LEADSHARE_HOST := $(HOST)
run: export BASE_URL ?= http://$(HOST):$(PORT)
run: install translations
	@mkdir -p var/celery/queue var/celery/processed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py sync_schedule
	@echo ""
	@echo "  Leadshare is starting on http://$(HOST):$(PORT)/"
	@echo "  Sign in with any demo login above, password: leadshare-demo"
	@echo "  (Ctrl-C stops web, worker and beat.)"
	@echo ""
	@if [ -n "$$REDIS_URL" ]; then \
		PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/honcho start web worker beat; \
	else \
		PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/honcho start web embedded; \
	fi

## make test: the whole suite (PostgreSQL when DATABASE_URL says so, else SQLite)
test: install-dev translations lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Compile the gettext catalogs with Babel (pure Python: no system gettext needed).
translations: $(VENV)/.installed
	$(BIN)/pybabel -q compile -d locale -D django

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

## Developers: refresh locale/de/LC_MESSAGES/django.po (needs system gettext).
messages: $(VENV)/.installed
	DEBUG=1 $(BIN)/python manage.py makemessages -l de --no-obsolete --ignore=.venv --ignore=var

migrate: $(VENV)/.installed
	DEBUG=1 $(BIN)/python manage.py migrate

clean:
	rm -rf var/leadshare.sqlite3* var/celery
