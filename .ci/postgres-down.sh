#!/usr/bin/env bash
# Stops the private cluster of .ci/postgres-up.sh by pid and removes it.
set -uo pipefail
state=${VWIRE_CI_STATE:-/tmp/vwire-ci}
data="$state/pgdata"
if [ -f "$data/postmaster.pid" ]; then
  pid=$(head -1 "$data/postmaster.pid")
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
fi
rm -rf "$data"
echo "postgres down"
