# The reference project end to end, and the tests. Two commands (see README):
#   make demo    install everything, then generate data, compile, dbt build, publish, summarise
#   make test    install everything, then run the whole test suite
# and the same demo on a PostgreSQL server you run (it starts nothing; settings from VEIL_PG_*, see profiles.yml):
#   make demo-postgres   load the data, compile for postgres, install the keys (as VEIL_PG_ADMIN_USER), dbt build
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
USERS ?= 2000
EVENTS ?= 200000

export VEIL_KEYRING ?= $(CURDIR)/.veil/keyring.json
export VEIL_VAULT ?= $(CURDIR)/.veil/vault.duckdb
export VEIL_WAREHOUSE ?= $(CURDIR)/warehouse.duckdb
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: demo demo-postgres test install data compile build lint publish summary bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $@

install: $(BIN)/.installed

demo: install data compile build lint publish summary

$(VEIL_KEYRING): | install
	$(BIN)/veil keys init --keyring $(VEIL_KEYRING)

data: install
	$(BIN)/python -m veil.demo.synthetic --db $(VEIL_WAREHOUSE) --users $(USERS) --events $(EVENTS)

compile: install
	$(BIN)/veil compile

build: install $(VEIL_KEYRING)
	$(BIN)/dbt build --project-dir . --profiles-dir .

lint: install
	$(BIN)/veil lint --dbt

publish: install
	$(BIN)/veil publish --audience analyst --out published/analyst.duckdb

summary: install
	$(BIN)/veil summary

# PostgreSQL: the builder is VEIL_PG_USER (target `postgres`), keys go in as a superuser (target `postgres_admin`).
# `veil publish` and `veil summary` are not part of it yet.
demo-postgres: install $(VEIL_KEYRING)
	$(BIN)/python -m veil.demo.postgres --project-dir . --target postgres --users $(USERS) --events $(EVENTS)
	$(BIN)/veil compile --target postgres
	$(BIN)/veil keys install --target postgres_admin --grant "$${VEIL_PG_USER:-veil}"
	$(BIN)/dbt build --project-dir . --profiles-dir . --target postgres
	$(BIN)/veil lint --dbt

test: install
	$(BIN)/pytest -q

bench: install
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python scripts/bench/masked_build.py
	$(BIN)/python scripts/bench/consent_retention.py
	$(BIN)/python scripts/bench/crypto_udfs.py
	$(BIN)/python scripts/bench/lint_speed.py

clean:
	rm -rf target logs published warehouse.duckdb warehouse.duckdb.wal
