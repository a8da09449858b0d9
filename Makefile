# make run    set everything up and serve on http://127.0.0.1:8000
# make test   the whole test suite against a throwaway PostGIS
# make lint   ruff
PYTHON ?= python3
VENV := .venv
PGPORT ?= 54320

.PHONY: run test lint install db-stop clean

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	scripts/run.sh

# A fresh cluster in a temporary folder for each run, removed afterwards (scripts/postgis.sh).
test: install
	scripts/postgis.sh with $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check app tests migrations scripts
	$(VENV)/bin/ruff format --check app tests migrations scripts

db-stop:
	scripts/postgis.sh stop .pgdata

clean: db-stop
	rm -rf $(VENV) .pgdata .local .pytest_cache *.egg-info
