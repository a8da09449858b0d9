#!/bin/sh
# An init script of the PostGIS container (/docker-entrypoint-initdb.d): let standbys on the
# Compose network stream the WAL, with the same password as everything else.
set -eu
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
