#!/usr/bin/env bash
# Run a command (the test suite) against a throwaway PostGIS, removed afterwards:
#
#   scripts/testdb.sh CMD...     TEST_DB=docker: a PostGIS container (POSTGIS_IMAGE, default
#                                postgis/postgis:15-3.5); TEST_DB=local: a cluster from the local
#                                PostgreSQL binaries (scripts/postgis.sh); unset: docker when a
#                                Docker engine answers, local otherwise.
#
# CMD sees DATABASE_URL and TEST_DATABASE_URL (a superuser's URL of an empty database), TEST_DB
# (which one it got) and TEST_DB_RESTART (a command that restarts the server, for fault tests).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${TEST_DB:-}
if [ -z "$mode" ]; then
    if command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; then mode=docker; else mode=local; fi
fi

case "$mode" in
    local)
        export TEST_DB=local
        exec scripts/postgis.sh with "$@"
        ;;
    docker) ;;
    *) echo "TEST_DB must be docker or local, not '$mode'" >&2; exit 2 ;;
esac

image=${POSTGIS_IMAGE:-postgis/postgis:15-3.5}
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
name="kaltim-test-$port"
# fsync off as for the local cluster: a throwaway database needs no durability.
docker run -d --rm --name "$name" -p "127.0.0.1:$port:5432" \
    -e POSTGRES_PASSWORD=postgres -e POSTGRES_DB=kaltim_test \
    "$image" -c fsync=off -c full_page_writes=off -c synchronous_commit=off >/dev/null
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT

# Ready when it answers over TCP from outside the container (the image's temporary init server
# listens on its socket only).
for _ in $(seq 1 240); do
    if docker exec "$name" pg_isready -q -h 127.0.0.1 -U postgres -d kaltim_test 2>/dev/null &&
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then
        ready=1; break
    fi
    sleep 0.5
done
[ -n "${ready:-}" ] || { docker logs "$name" >&2; echo "the PostGIS container did not start" >&2; exit 1; }

echo "Test database: $image in container $name on 127.0.0.1:$port" >&2
export TEST_DB=docker
export DATABASE_URL="postgresql+asyncpg://postgres:postgres@127.0.0.1:$port/kaltim_test"
export TEST_DATABASE_URL=$DATABASE_URL
export TEST_DB_RESTART="docker restart -t 5 $name"
"$@"
