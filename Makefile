# make run    set everything up and serve on http://127.0.0.1:8000
# make test   the whole test suite against a throwaway PostGIS
# make lint   ruff
# make smoke  docker compose up on a fresh volume, checked, then down -v
# make lock   re-pin the dependencies (requirements/)
# make bench  the benchmark on a million parcels (BENCHMARKS.md)
PYTHON ?= python3
VENV := .venv
PGPORT ?= 54320
BENCH_PGPORT ?= 54330

.PHONY: run test lint bench install lock smoke db-stop clean

# The pinned set in requirements/dev.txt, then the project itself on top of it (no resolving).
$(VENV)/.installed: pyproject.toml requirements/dev.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements/dev.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

run: install
	scripts/run.sh

# A throwaway PostGIS for each run, removed afterwards (scripts/testdb.sh): a Docker container
# where a Docker engine answers, a cluster from the local binaries otherwise; TEST_DB=docker|local
# forces one.
test: install
	scripts/testdb.sh $(VENV)/bin/pytest $(PYTEST_ARGS)

# Bring the Compose stack up on a fresh volume, check it, count restarts, take it down (RUNS=3).
smoke:
	scripts/compose-smoke.sh

# Re-resolve the pinned dependencies from pyproject.toml (requirements/*.txt).
lock:
	scripts/lock.sh

# A million parcels in a cluster of its own (.bench-pg, kept between runs), the API and tipg;
# see BENCHMARKS.md. Pass options with BENCH_ARGS="--seconds 3 --only bbox"; then the import
# of the same parcels from a GeoPackage against ogr2ogr (BENCH_IMPORT_ARGS="--count 100000").
bench: install
	scripts/postgis.sh install
	test -x .venv-tipg/bin/python || ($(PYTHON) -m venv .venv-tipg && \
		.venv-tipg/bin/pip install --quiet 'tipg==1.6.1' 'uvicorn[standard]')
	scripts/postgis.sh start .bench-pg $(BENCH_PGPORT)
	BENCH_DATABASE_URL=$$(scripts/postgis.sh url .bench-pg $(BENCH_PGPORT) kaltim_bench) \
		$(VENV)/bin/python -m bench.run $(BENCH_ARGS)
	BENCH_DATABASE_URL=$$(scripts/postgis.sh url .bench-pg $(BENCH_PGPORT) kaltim_bench) \
		$(VENV)/bin/python -m bench.imports $(BENCH_IMPORT_ARGS)

lint: install
	$(VENV)/bin/ruff check app tests migrations scripts bench
	$(VENV)/bin/ruff format --check app tests migrations scripts bench

db-stop:
	scripts/postgis.sh stop .pgdata
	scripts/postgis.sh stop .bench-pg

clean: db-stop
	rm -rf $(VENV) .venv-tipg .pgdata .bench-pg .local .pytest_cache *.egg-info
