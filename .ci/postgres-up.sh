#!/usr/bin/env bash
# Installs PostgreSQL from Debian's packages (if needed) and starts a private
# cluster in a temporary directory on a loopback port, as the postgres user
# (initdb refuses root). Prints the admin URL the tests take from
# VWIRE_TEST_POSTGRES; .ci/postgres-down.sh stops it by pid.
set -euo pipefail
state=${VWIRE_CI_STATE:-/tmp/vwire-ci}
port=${VWIRE_PG_PORT:-55432}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
mkdir -p "$state"
data="$state/pgdata"
if [ -f "$data/postmaster.pid" ] && kill -0 "$(head -1 "$data/postmaster.pid")" 2>/dev/null; then
  echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  exit 0
fi
rm -rf "$data"
mkdir -p "$data"
chown postgres: "$state" "$data" 2>/dev/null || chown postgres "$data"
chmod 755 "$state"
runuser -u postgres -- "$bin/initdb" -D "$data" -A trust -U postgres --no-sync >/dev/null
# Sized for three engines and 64 clients; durability is not what CI tests.
runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$data/log" -w -o "-h 127.0.0.1 -p $port -k /tmp -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
