#!/usr/bin/env bash
# A PostGIS server from the system's PostgreSQL binaries, in a folder of its own.
#
#   scripts/postgis.sh install            install PostgreSQL + PostGIS from Debian packages if missing
#   scripts/postgis.sh start DIR PORT     create (first time) and start a cluster in DIR on 127.0.0.1:PORT
#   scripts/postgis.sh stop DIR           stop the cluster in DIR
#   scripts/postgis.sh restart DIR        restart the cluster in DIR (fast shutdown)
#   scripts/postgis.sh url DIR PORT DB    print the DATABASE_URL for database DB (created if missing)
#   scripts/postgis.sh standby PORT DIR PORT2  a hot standby of the cluster on 127.0.0.1:PORT, made with
#                                         pg_basebackup in DIR, streaming, started on PORT2
#   scripts/postgis.sh with CMD...        run CMD with DATABASE_URL and TEST_DATABASE_URL set to a
#                                         throwaway cluster that is removed afterwards, and
#                                         TEST_DB_RESTART to a command that restarts it
#
# PostgreSQL refuses to run as root, so when run as root the cluster belongs to the
# `postgres` user. The cluster listens on 127.0.0.1 only and trusts local connections.
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"

bindir() {
    local dir
    for dir in "/usr/lib/postgresql/${PG_MAJOR}/bin" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -Vr); do
        if [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
    done
    return 1
}

have_postgis() {
    local bin major
    bin=$(bindir) || return 1
    major=$(basename "$(dirname "$bin")")
    [ -f "/usr/share/postgresql/${major}/extension/postgis.control" ]
}

install() {
    if have_postgis; then return; fi
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    echo "Installing PostgreSQL ${PG_MAJOR} + PostGIS 3 from Debian packages ..." >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "postgresql-${PG_MAJOR}" "postgresql-${PG_MAJOR}-postgis-3" >&2
}

# Run a PostgreSQL server binary as a user it accepts.
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
    local dir=$1 port=$2 bin
    bin=$(bindir)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; chmod 700 "$dir"; fi
    if [ ! -f "$dir/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if as_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then return; fi
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start -o \
        "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='$dir' -c fsync=off -c full_page_writes=off" >/dev/null
}

stop() {
    local dir=$1 bin
    bin=$(bindir)
    if [ -f "$dir/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
    fi
}

restart() {
    local dir=$1 bin
    bin=$(bindir)
    as_owner "$bin/pg_ctl" -D "$dir" -m fast -w -t 60 restart >/dev/null
}

url() {
    local dir=$1 port=$2 db=$3 bin
    bin=$(bindir)
    if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "select 1 from pg_database where datname='$db'" postgres | grep -q 1; then
        "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db"
    fi
    echo "postgresql+asyncpg://postgres@127.0.0.1:${port}/${db}"
}

standby() {
    local primary_port=$1 dir=$2 port=$3 bin
    bin=$(bindir)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; chmod 700 "$dir"; fi
    if [ ! -f "$dir/PG_VERSION" ]; then
        as_owner "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$dir" -R -X stream -c fast
    fi
    start "$dir" "$port"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

with() {
    install
    THROWAWAY_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kaltim-pg.XXXXXX")
    trap 'stop "$THROWAWAY_DIR" || true; rm -rf "$THROWAWAY_DIR"' EXIT
    local port
    port=$(free_port)
    start "$THROWAWAY_DIR" "$port"
    DATABASE_URL=$(url "$THROWAWAY_DIR" "$port" kaltim_test)
    TEST_DATABASE_URL=$DATABASE_URL
    TEST_DB_RESTART="$(cd "$(dirname "$0")" && pwd)/$(basename "$0") restart $THROWAWAY_DIR"
    export DATABASE_URL TEST_DATABASE_URL TEST_DB_RESTART
    "$@"
}

cmd=${1:-}
shift || true
case "$cmd" in
    install) install ;;
    start) start "$@" ;;
    stop) stop "$@" ;;
    restart) restart "$@" ;;
    url) url "$@" ;;
    standby) standby "$@" ;;
    with) with "$@" ;;
    *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
