# Loyalty Back Office — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# The zh-Hans catalog (docs/i18n.md): the .po is committed, the .mo is built from it.
LOCALE_PO := locale/zh_Hans/LC_MESSAGES/django.po
LOCALE_MO := locale/zh_Hans/LC_MESSAGES/django.mo
# The admin's JavaScript strings Django's zh-Hans lacks (kept by hand; compiled with the other).
LOCALE_JS_PO := locale/zh_Hans/LC_MESSAGES/djangojs.po
# `make run LANGUAGE=zh-hans`: the admin in Simplified Chinese for staff who have not picked a
# language in its header (anything but en / zh-hans, such as a shell's LANGUAGE=en_GB:en, is
# ignored).
RUN_LANGUAGE := $(filter en zh-hans,$(shell echo '$(LANGUAGE)' | tr A-Z a-z))
# `DEMO_LOCALE=zh make run`: the Chinese demo (CNY, Chinese names, 普通会员/银卡/金卡/钻石) in its
# own SQLite file, so it never mixes with the English demo; the admin then speaks Chinese too.
ifeq ($(DEMO_LOCALE),zh)
DEMO_ARGS := --locale zh
export DATABASE_URL ?= sqlite:///$(CURDIR)/var/demo-zh.sqlite3
RUN_LANGUAGE := $(or $(RUN_LANGUAGE),zh-hans)
endif

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.lock requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		-r requirements.lock -r requirements-dev.lock
	touch $(STAMP)

$(LOCALE_MO): $(LOCALE_PO) $(LOCALE_JS_PO) $(STAMP)
	$(BIN)/python -m config.translations compile

.PHONY: install
install: $(STAMP) $(LOCALE_MO) ## Create .venv, install the pinned dependencies, compile the translations

.PHONY: messages
messages: $(STAMP) ## Refresh the zh-Hans .po from the sources (then translate what it lists) and compile it
	$(BIN)/python -m config.translations update

.PHONY: demo
demo: install ## Migrate the SQLite database and load the demo data (keeps existing data)
	$(BIN)/python manage.py migrate --noinput
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python manage.py load_demo $(DEMO_ARGS)

.PHONY: run
run: demo ## Install, migrate, load demo data and serve the admin on http://127.0.0.1:8000/admin/ (another port: PORT=8100 make run)
	$(if $(RUN_LANGUAGE),ADMIN_LANGUAGE=$(RUN_LANGUAGE) LANGUAGE_CODE=$(RUN_LANGUAGE)) \
		$(BIN)/python manage.py runserver $(HOST):$(PORT)

.PHONY: worker
worker: install ## Start a job worker against DATABASE_URL (PostgreSQL); start as many as needed
	@$(BIN)/python manage.py shell -v 0 -c "import sys; from django.db import connection; \
	sys.exit(connection.vendor != 'postgresql')" || { echo "make worker: DATABASE_URL must \
	name PostgreSQL (on SQLite jobs run in-process after commit: no worker needed)" >&2; exit 1; }
	JOBS_LOG_LEVEL=$${JOBS_LOG_LEVEL:-INFO} $(BIN)/python manage.py jobs_worker

.PHONY: test
test: test-sqlite test-postgres ## Run the whole test suite on SQLite and on PostgreSQL

.PHONY: test-sqlite
test-sqlite: install ## Run the test suite on SQLite
	env -u DATABASE_URL $(BIN)/pytest -n 2 $(PYTEST_ARGS)

.PHONY: test-postgres
test-postgres: install ## Run the test suite on PostgreSQL (DATABASE_URL, or a private cluster)
	scripts/with-postgres.sh $(BIN)/pytest -n 2 $(PYTEST_ARGS)

.PHONY: lint
lint: install ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

.PHONY: format
format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: schema
schema: install ## Regenerate the committed OpenAPI schema (docs/openapi.yaml)
	$(BIN)/python manage.py spectacular --file docs/openapi.yaml --validate

.PHONY: lock
lock: install ## Re-resolve requirements*.in into the hashed lock files
	$(BIN)/uv pip compile --python-version 3.11 --generate-hashes -q requirements.in -o requirements.lock
	$(BIN)/uv pip compile --python-version 3.11 --generate-hashes -q requirements-dev.in -o requirements-dev.lock

.PHONY: bench
bench: install ## Run every benchmark on a durable PostgreSQL (docs/benchmarks.md); each also runs alone
	@for b in bench/[!_]*.py; do echo "== $$b"; \
		PG_DURABLE=1 scripts/with-postgres.sh $(BIN)/python $$b || exit 1; done
