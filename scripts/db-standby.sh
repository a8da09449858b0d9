#!/bin/sh
# The standby container of the `replica` Compose profile: on a fresh volume, a copy of the
# primary made with pg_basebackup (-R writes the streaming settings and standby.signal), then
# PostgreSQL as the image runs it: a hot standby that replays the primary's WAL.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    until pg_isready -h db -U "$POSTGRES_USER" -d "$POSTGRES_DB" >/dev/null 2>&1; do sleep 1; done
    PGPASSWORD="$POSTGRES_PASSWORD" pg_basebackup -h db -U "$POSTGRES_USER" -D "$PGDATA" -R -X stream -c fast
    chmod 700 "$PGDATA"
fi
exec docker-entrypoint.sh postgres
