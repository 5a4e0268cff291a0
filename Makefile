# The one way to run things. `make run` and `make test` work on a fresh machine.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
STAMP   := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK=1

.PHONY: run test check bench fuzz soak install init collect fmt clean help

help:
	@echo "make run    – installieren, Datenbank anlegen, Beispielmeldungen sammeln, Dienst starten"
	@echo "make test   – Testabhängigkeiten installieren und alle Tests ausführen"
	@echo "make check  – ruff und mypy"
	@echo "make bench  – Messungen in bench/ (Verhältnisse gegen eine Basislinie)"
	@echo "make fuzz   – Eingabepfade und API mit vielen erzeugten Beispielen prüfen (einige Minuten)"
	@echo "make soak   – Dauerlauf: serve 20 Minuten unter Feed-Last, Newsletter jede Minute (SOAK_ARGS=\"--minutes 3\")"

$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	@echo "Installiere die Abhängigkeiten in $(VENV) – das dauert etwa eine Minute …"
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

init: install
	$(VENV)/bin/newsletter init-db

collect: init
	$(VENV)/bin/newsletter collect

run: collect
	$(VENV)/bin/newsletter serve

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

check: install
	$(VENV)/bin/ruff check newsletter tests bench
	$(VENV)/bin/ruff format --check newsletter tests bench
	$(VENV)/bin/mypy

fmt: install
	$(VENV)/bin/ruff format newsletter tests bench
	$(VENV)/bin/ruff check --fix newsletter tests bench

bench: install
	$(PY) bench/run.py

# Thousands of generated inputs per parser and 300 per API operation; prints the
# slowest input's time per target. `make test` runs the same tests with a few dozen.
fuzz: install
	NEWSLETTER_FUZZ_EXAMPLES=5000 NEWSLETTER_API_EXAMPLES=300 \
	  $(PY) -m pytest -q -s -p no:cacheprovider tests/test_fuzz.py tests/test_api_schema.py

# `newsletter serve` for 20 minutes under a bounded feed-poll load (wrk, if installed) with
# a digest every minute; prints RSS, open descriptors and 5xx over time and a verdict.
soak: install
	$(PY) bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
