#!/usr/bin/env bash
# `make run`: everything a newcomer needs, then serve on http://$HOST:$PORT (default 127.0.0.1:8000).
#
# Database: $DATABASE_URL if set; otherwise Docker Compose where a Docker engine runs; otherwise a
# local PostGIS cluster in .pgdata/ started from the system's PostgreSQL binaries (Debian packages
# installed when missing). Writes need a key: $API_KEYS if set, otherwise one made once and kept
# in .local/api-key.
set -euo pipefail
cd "$(dirname "$0")/.."

HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
PGPORT=${PGPORT:-54320}

if [ -z "${API_KEYS:-}" ]; then
    mkdir -p .local
    [ -s .local/api-key ] || python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > .local/api-key
    API_KEYS=$(cat .local/api-key)
fi
export API_KEYS

if [ -z "${DATABASE_URL:-}" ] && command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    echo "Docker is running: PostGIS and the API start with docker compose (key for writes: $API_KEYS)."
    exec docker compose up --build
fi

if [ -z "${DATABASE_URL:-}" ]; then
    scripts/postgis.sh install
    scripts/postgis.sh start .pgdata "$PGPORT"
    DATABASE_URL=$(scripts/postgis.sh url .pgdata "$PGPORT" kaltim)
    echo "PostGIS is running from .pgdata on 127.0.0.1:$PGPORT (stop it with: make db-stop)."
fi
export DATABASE_URL

.venv/bin/alembic upgrade head
.venv/bin/python -m app.cli seed
.venv/bin/python -m app.cli demo-parcels
echo
echo "Serving on http://$HOST:$PORT  (API docs: http://$HOST:$PORT/docs)"
echo "Writes need: Authorization: Bearer $API_KEYS"
exec .venv/bin/uvicorn app.main:app --host "$HOST" --port "$PORT" --no-server-header
