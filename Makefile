# Settle: `make run` serves the app with demo data and a background worker (imports, periodic
# jobs; `manage.py serve --no-worker` without it); `make test` runs every test.
# Both install what they need into .venv with a Python 3.12+ interpreter.

VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
# Exact versions with hashes of everything installed (test extra included); pyproject.toml keeps the ranges.
LOCK      := requirements.lock
UV        := uv==0.13.9
HOST      ?= 127.0.0.1
PORT      ?= 8000

# A Python 3.12+: $PYTHON if set, else the one .python-version names via pyenv, else python3.13/3.12/python3.
PYTHON ?= $(shell for c in "$$(pyenv prefix $$(cat .python-version) 2>/dev/null)/bin/python" python3.12 python3.13 python3; do \
	  if command -v "$$c" >/dev/null 2>&1 && "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then echo "$$c"; break; fi; done)

.PHONY: run serve test test-long mutate lint install lock chromium weasyprint-libs bench check migrate clean-db

# Installs exactly what the lock names, checking every hash; plain pip, nothing else needed.
$(STAMP): pyproject.toml $(LOCK)
	@if [ -z "$(PYTHON)" ]; then echo "Settle needs Python 3.12 or newer: install it (e.g. 'pyenv install 3.12') or set PYTHON=/path/to/python3.12." >&2; exit 1; fi
	@echo "Creating $(VENV) with $(PYTHON) ($$($(PYTHON) --version))"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --require-hashes --no-deps -r $(LOCK) > $(VENV)/install.log 2>&1 || { tail -40 $(VENV)/install.log; exit 1; }
	@$(PY) -m pip check >> $(VENV)/install.log 2>&1 || { tail -20 $(VENV)/install.log; exit 1; }
	@$(PY) .ci/check_lock.py
	@echo "Installed Settle's dependencies from $(LOCK) into $(VENV) (log: $(VENV)/install.log)"
	@touch $(STAMP)

install: $(STAMP)

# Re-resolve the lock after changing pyproject.toml (or to take newer versions within its ranges),
# for every platform, with the hashes of every file; then 'make install' applies it.
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet '$(UV)'
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --universal --python-version 3.12 --generate-hashes $(LOCK_ARGS) -o $(LOCK)

# Browser tests drive Debian's Chromium (Playwright's own browser download does not work offline).
chromium:
	@if [ -x /usr/bin/chromium ]; then exit 0; fi; \
	echo "Installing Debian's chromium for the browser tests..."; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else \
	  echo "Chromium is missing and I cannot install it: run 'apt-get install chromium' as root." >&2; exit 1; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null

# Documents become PDFs with WeasyPrint (in the lock), which loads Debian's Pango and HarfBuzz at run time.
WEASYPRINT_LIBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
weasyprint-libs:
	@missing=$$(for p in $(WEASYPRINT_LIBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "Installing Debian's $$missing for PDF documents (WeasyPrint)..."; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else \
	  echo "$$missing missing and I cannot install them: run 'apt-get install $$missing' as root." >&2; exit 1; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null

migrate: install
	$(PY) manage.py migrate --noinput

run: migrate weasyprint-libs
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py serve $(HOST):$(PORT)

# Production-like, on this machine: gunicorn with WEB_CONCURRENCY workers (default 2 x cores + 1,
# config/gunicorn.conf.py), static files collected with hashed names and served by WhiteNoise,
# JSON logs, production settings over plain http on 127.0.0.1 (SETTLE_LOCAL_HTTP=1). No worker:
# run `manage.py procrastinate worker` beside it, on this machine or any other (docs/scaling.md).
serve: migrate weasyprint-libs
	DJANGO_ENV=production SETTLE_LOCAL_HTTP=1 $(PY) manage.py collectstatic --noinput -v0
	DJANGO_ENV=production SETTLE_LOCAL_HTTP=1 SETTLE_BIND=$(HOST):$(PORT) $(VENV)/bin/gunicorn -c config/gunicorn.conf.py

# Lint, format check and type check: the same tools and settings as in pyproject.toml.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint chromium weasyprint-libs
	$(PY) -m pytest $(PYTEST_ARGS)

# Before a release: every test, with the stateful property tests at a long budget (HYPOTHESIS_PROFILE=long,
# tests/conftest.py; HYPOTHESIS_EXAMPLES and HYPOTHESIS_STEPS override its numbers).
test-long: lint chromium weasyprint-libs
	HYPOTHESIS_PROFILE=long $(PY) -m pytest $(PYTEST_ARGS)

# Mutation testing of the core modules with mutmut ([tool.mutmut] in pyproject.toml: what is mutated,
# which tests run). Slow (hours for everything on 2 cores), so not in CI: MODULES narrows it
# (make mutate MODULES="billing/money.py allocations.rules"), MUTATE_CHILDREN runs mutants in parallel,
# each pytest session on a test database of its own (SETTLE_TEST_DB_SLOTS, tests/support/db_slots.py):
# sessions sharing one count each other's committed rows (tests/MUTATION.md, second run).
# Results are kept in mutants/ (rm -rf mutants for a fresh run); the last score is in tests/MUTATION.md.
MUTATE_CHILDREN ?= 2
MUTATE_MODULES = $(foreach m,$(MODULES),"$(subst /,.,$(m:.py=)).*")
mutate: install
	SETTLE_VAR_DIR=$(CURDIR)/var SETTLE_TEST_DB=$${SETTLE_TEST_DB:-test_settle_mutmut} SETTLE_TEST_DB_SLOTS=$(MUTATE_CHILDREN) HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-mutate} \
	  nice -n 19 $(VENV)/bin/mutmut run --max-children $(MUTATE_CHILDREN) $(MUTATE_MODULES)
	$(PY) -m tests.mutation_report $(MODULES)

check: install
	$(PY) manage.py check
	DJANGO_ENV=production DATABASE_URL=postgres://u:p@127.0.0.1:1/x DJANGO_SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	  DJANGO_ALLOWED_HOSTS=settle.example.com $(PY) manage.py check --deploy --fail-level WARNING

bench: install
	$(PY) -m bench $(BENCH_ARGS)
