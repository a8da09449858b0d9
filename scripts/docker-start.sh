#!/bin/sh
# The API container's start: wait for PostGIS, migrate and load the reference data (both
# idempotent), the demo data (parcels, illustrative conflicts and constraint layers; idempotent too)
# unless DEMO_DATA=false, then serve with WEB_CONCURRENCY workers (default: one per core).
set -eu
python -m app.cli wait-db --timeout "${DB_WAIT_SECONDS:-60}"
alembic upgrade head
python -m app.cli seed
if [ "${DEMO_DATA:-true}" != "false" ]; then
    python -m app.cli demo-parcels
fi
exec uvicorn app.main:app --host 0.0.0.0 --port 8000 --proxy-headers --no-server-header \
    --workers "${WEB_CONCURRENCY:-$(nproc)}"
