# Two commands matter: `make run` (the whole app in one process, embedded mode) and `make test`.
# Each prepares what it needs: the virtualenv from requirements.lock, npm packages, the frontend build.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
JS_STAMP := frontend/node_modules/.installed
BUILD := static/dist/manifest.json
FRONTEND_SOURCES := $(shell find frontend/src -type f) frontend/vite.config.ts frontend/tsconfig.json
EVENT_TYPES := frontend/src/lib/eventTypes.generated.ts

TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/switchyard
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
# The other shards' own databases and Redis databases: the shards share nothing but the servers.
TEST_DATABASE_URL_2 ?= postgresql://postgres@127.0.0.1:5432/switchyard_2
TEST_REDIS_URL_2 ?= redis://127.0.0.1:6379/15
TEST_DATABASE_URL_3 ?= postgresql://postgres@127.0.0.1:5432/switchyard_3
TEST_REDIS_URL_3 ?= redis://127.0.0.1:6379/14
TEST_DATABASE_URL_4 ?= postgresql://postgres@127.0.0.1:5432/switchyard_4
TEST_REDIS_URL_4 ?= redis://127.0.0.1:6379/11
# Compiled modules kept outside the source tree from the interpreter's start (tests/bytecode.py), whatever
# the machine says: pytest's plugins are imported before the test settings, and their modules were
# compiled and their asserts rewritten anew in every test process (2-4 s of CPU each).
TEST_ENV := SECRET_KEY=test-only-secret-key-that-is-long-enough PYTHONDONTWRITEBYTECODE= \
	PYTHONPYCACHEPREFIX=$${TMPDIR:-/tmp}/switchyard-test-bytecode
# Shards of about equal time, as lists of test files (docs/testing.md): the first three are named
# by directory, less the files moved out to even them; the fourth is every other test file, found
# anew on each run, so a new file can never be left out or run twice.
TEST_FILES := $(sort $(shell find tests -name 'test_*.py'))
files_in = $(filter $(addsuffix %,$(1)),$(TEST_FILES))
MOVED_TO_2 := tests/approvals/test_inbox_pages.py
MOVED_TO_4 := tests/engine/test_for_each.py tests/engine/test_lease_holders.py
SHARD_1 := $(filter-out $(call files_in,tests/engine/core/ $(MOVED_TO_4)),$(call files_in,tests/engine/))
SHARD_2 := $(call files_in,tests/config/) $(MOVED_TO_2)
SHARD_3 := $(filter-out $(MOVED_TO_2),$(call files_in,tests/browser/ tests/engine/core/ tests/approvals/ tests/costs/ tests/knowledge/))
SHARD_4 := $(filter-out $(SHARD_1) $(SHARD_2) $(SHARD_3),$(TEST_FILES))

.PHONY: run test check lint typecheck frontend-test pytest pytest-shard-1 pytest-shard-2 pytest-shard-3 pytest-shard-4 pytest-sqlite clean

run: $(PY_STAMP) $(BUILD)
	env -u DATABASE_URL -u REDIS_URL $(PY) -m config.embedded

$(PY_STAMP): requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

$(JS_STAMP): frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The frontend's copy of engine/event_types.py. It is committed as well, so npm commands work on
# their own; tests/engine/test_event_types.py fails when the copy is stale.
$(EVENT_TYPES): engine/event_types.py engine/models/runs.py | $(PY_STAMP)
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py write_event_types

$(BUILD): $(JS_STAMP) $(EVENT_TYPES) $(FRONTEND_SOURCES)
	cd frontend && npm run build

test: lint typecheck frontend-test pytest

lint: $(PY_STAMP) $(JS_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) frontend/node_modules/htmx.org/dist/scripts/upgrade-check.py templates/

typecheck: $(PY_STAMP) $(JS_STAMP) $(EVENT_TYPES)
	$(VENV)/bin/mypy .
	cd frontend && npm run typecheck

frontend-test: $(JS_STAMP) $(EVENT_TYPES)
	cd frontend && npm test

# Everything on PostgreSQL and Redis in four shards side by side (each its own pytest process, test
# database, Redis database and Celery worker), and the engine core again on SQLite, as the embedded
# mode runs it. Most tests wait on workers, sockets and browsers rather than compute, so the shards
# overlap well on two cores. Output is printed per shard when it ends (docs/testing.md).
pytest: $(PY_STAMP) $(BUILD)
	$(MAKE) --no-print-directory -j5 --output-sync=target \
		pytest-shard-1 pytest-shard-2 pytest-shard-3 pytest-shard-4 pytest-sqlite

pytest-shard-1: $(PY_STAMP) $(BUILD)
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(TEST_ENV) $(VENV)/bin/pytest $(SHARD_1)

pytest-shard-2: $(PY_STAMP) $(BUILD)
	DATABASE_URL=$(TEST_DATABASE_URL_2) REDIS_URL=$(TEST_REDIS_URL_2) $(TEST_ENV) $(VENV)/bin/pytest $(SHARD_2)

pytest-shard-3: $(PY_STAMP) $(BUILD)
	DATABASE_URL=$(TEST_DATABASE_URL_3) REDIS_URL=$(TEST_REDIS_URL_3) $(TEST_ENV) $(VENV)/bin/pytest $(SHARD_3)

pytest-shard-4: $(PY_STAMP) $(BUILD)
	DATABASE_URL=$(TEST_DATABASE_URL_4) REDIS_URL=$(TEST_REDIS_URL_4) $(TEST_ENV) \
		$(VENV)/bin/pytest $(SHARD_4)

pytest-sqlite: $(PY_STAMP)
	env -u DATABASE_URL -u REDIS_URL $(TEST_ENV) $(VENV)/bin/pytest tests/engine/core

clean:
	rm -rf $(VENV) frontend/node_modules static/dist
