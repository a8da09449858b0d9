#!/usr/bin/env bash
# The Compose stack as a new user starts it, RUNS times (default 1), each on a fresh volume:
# `up --build`, wait until the API is healthy, check /health, /zones, /parcels?limit=2, /ogc, a
# vector tile, /map, and /docs with the vendored bundles, and (unless DEMO_DATA=false) the demo
# data's illustrative conflicts and layers, require zero container restarts, then `down -v`.
# Prints one line a run with the seconds from `up` to healthy. Needs a Docker engine and Compose
# (v2 or 1.29).
#
#   RUNS=3 scripts/compose-smoke.sh
#   API_PORT=18000 DB_PORT=15433 POSTGIS_IMAGE=postgis/postgis:15-3.4 scripts/compose-smoke.sh
#   PROFILE=replica scripts/compose-smoke.sh   # with the hot standby: reads must come from it
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-1}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-240}
export API_PORT=${API_PORT:-18000} DB_PORT=${DB_PORT:-15433}
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-kaltimsmoke}
base="http://127.0.0.1:${API_PORT}"

if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
if [ "${PROFILE:-}" = replica ]; then
    compose+=(--profile replica)
    export DATABASE_REPLICA_URL=postgresql://kaltim:kaltim@db-replica:5432/kaltim
fi

down() { "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true; }
fail() {
    echo "compose smoke test FAILED: $*" >&2
    "${compose[@]}" ps >&2 || true
    "${compose[@]}" logs --tail 80 >&2 || true
    down
    exit 1
}

# GET a path; it must answer `status` (default 200). The body goes to $body.
body=$(mktemp)
trap 'rm -f "$body"; down' EXIT
get() {
    local path=$1 want=${2:-200} got
    got=$(curl -s -o "$body" -w '%{http_code}' --max-time 30 "$base$path") || fail "GET $path: no answer"
    [ "$got" = "$want" ] || fail "GET $path answered $got, not $want: $(head -c 300 "$body")"
}
json() { python3 -c "import json, sys; d = json.load(open('$body')); $1"; }

down
"${compose[@]}" build --quiet api >/dev/null || fail "the image did not build"
for run in $(seq 1 "$RUNS"); do
    started=$(date +%s.%N)
    "${compose[@]}" up -d >/dev/null 2>&1 || fail "up -d failed"
    api=$("${compose[@]}" ps -q api)
    while :; do
        state=$(docker inspect -f '{{.State.Health.Status}}' "$api")
        [ "$state" = healthy ] && break
        elapsed=$(python3 -c "import time; print(int(time.time() - $started))")
        [ "$elapsed" -lt "$HEALTH_TIMEOUT" ] || fail "the API was not healthy after ${HEALTH_TIMEOUT} s"
        sleep 0.5
    done
    healthy=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")

    get /health
    json "assert d['status'] == 'ok', d"
    get /zones
    json "assert len(d['features']) >= 3, len(d['features'])"
    # A tile of the zones layer at zoom 12 holding the first zone's first vertex.
    tile=$(json "
import math
lon, lat = d['features'][0]['geometry']['coordinates'][0][0][0][:2]
z = 12; n = 2 ** z
x = int((lon + 180) / 360 * n)
y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
print(f'{z}/{x}/{y}')")
    get "/parcels?limit=2"
    json "assert d['type'] == 'FeatureCollection' and d['numberReturned'] <= 2, d"
    get /ogc
    json "assert any(link['rel'] == 'conformance' for link in d['links']), d"
    get "/tiles/zones/$tile.mvt"
    [ -s "$body" ] || fail "the zones tile $tile is empty"
    get /map
    grep -q maplibre "$body" || fail "/map does not load MapLibre"
    if [ "${DEMO_DATA:-true}" != "false" ]; then
        # The demo data as make run has it: illustrative conflicts and constraint layers.
        get "/parcels/conflicts?zone=kik-kariangau"
        json "kinds = {f['properties']['conflict'] for f in d['features']}
assert kinds == {'overlap', 'straddle'}, kinds"
        get /layers
        json "assert {x['name'] for x in d['layers']} == {'demo-flood-hazard', 'demo-spatial-plan'}, d"
    fi
    # The image holds the vendored bundles the pages load (package data of the installed app).
    get /docs
    grep -q /static/vendor/swagger-ui-dist/ "$body" || fail "/docs does not load the vendored Swagger UI"
    for file in swagger-ui-dist/swagger-ui-bundle.js swagger-ui-dist/swagger-ui.css redoc/redoc.standalone.js; do
        get "/static/vendor/$file"
    done

    if [ "${PROFILE:-}" = replica ]; then
        # Reads come from the standby once the API has seen it streaming; a write's answer says
        # where it went, and the standby has the reference data.
        from=""
        for _ in $(seq 1 60); do
            from=$(curl -s -D - -o /dev/null "$base/zones" | tr -d '\r' | sed -n 's/^x-read-from: //Ip')
            [ "$from" = replica ] && break
            sleep 0.5
        done
        [ "$from" = replica ] || fail "reads did not come from the standby (x-read-from: $from)"
        standby=$("${compose[@]}" ps -q db-replica)
        [ "$(docker exec "$standby" psql -U kaltim -d kaltim -tAc 'SELECT pg_is_in_recovery()')" = t ] ||
            fail "db-replica is not a standby"
    fi

    restarts=0
    for id in $("${compose[@]}" ps -q); do
        restarts=$((restarts + $(docker inspect -f '{{.RestartCount}}' "$id")))
    done
    [ "$restarts" = 0 ] || fail "containers restarted $restarts times"
    echo "compose smoke run $run/$RUNS: healthy after ${healthy} s, 0 restarts, all checks passed"
    down
done
