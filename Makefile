# make run    set everything up and serve on http://127.0.0.1:8000
# make test   the whole test suite against a throwaway PostGIS
# make lint   ruff
# make bench  the benchmark on a million parcels (BENCHMARKS.md)
PYTHON ?= python3
VENV := .venv
PGPORT ?= 54320
BENCH_PGPORT ?= 54330

.PHONY: run test lint bench install db-stop clean

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

# A million parcels in a cluster of its own (.bench-pg, kept between runs), the API and tipg;
# see BENCHMARKS.md. Pass options with BENCH_ARGS="--seconds 3 --only bbox".
bench: install
	scripts/postgis.sh install
	test -x .venv-tipg/bin/python || ($(PYTHON) -m venv .venv-tipg && \
		.venv-tipg/bin/pip install --quiet 'tipg==1.6.1' 'uvicorn[standard]')
	scripts/postgis.sh start .bench-pg $(BENCH_PGPORT)
	BENCH_DATABASE_URL=$$(scripts/postgis.sh url .bench-pg $(BENCH_PGPORT) kaltim_bench) \
		$(VENV)/bin/python -m bench.run $(BENCH_ARGS)

lint: install
	$(VENV)/bin/ruff check app tests migrations scripts bench
	$(VENV)/bin/ruff format --check app tests migrations scripts bench

db-stop:
	scripts/postgis.sh stop .pgdata
	scripts/postgis.sh stop .bench-pg

clean: db-stop
	rm -rf $(VENV) .venv-tipg .pgdata .bench-pg .local .pytest_cache *.egg-info
