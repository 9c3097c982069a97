#!/usr/bin/env bash
# The PostgreSQL ceiling Patron's ingest figures are compared against (see bench/README.md):
# TPC-B-like pgbench on a scratch database.
#
#   pgbench -i -s 10, then pgbench -c 8 -j 2 -T 30, on database pgbench_ceiling, dropped after.
#
# Override with environment variables:
#   PGBENCH_CLIENTS="8"   clients (-c); several values run one after the other: "8 1"
#   PGBENCH_JOBS=2        threads (-j); capped at the client count
#   PGBENCH_TIME=30       seconds per run (-T)
#   PGBENCH_SCALE=10      scale of the initial data (-s)
#   PGBENCH_DB=pgbench_ceiling   scratch database: created, then dropped (even on failure)
#   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres   the server (trust auth, or PGPASSWORD)
set -euo pipefail

export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
clients="${PGBENCH_CLIENTS:-8}"
jobs="${PGBENCH_JOBS:-2}"
seconds="${PGBENCH_TIME:-30}"
scale="${PGBENCH_SCALE:-10}"
db="${PGBENCH_DB:-pgbench_ceiling}"

for tool in pgbench createdb dropdb; do
  command -v "$tool" >/dev/null || { echo "pgbench.sh: $tool not found (apt-get install postgresql-client)" >&2; exit 2; }
done

quiet=(env PGOPTIONS="-c client_min_messages=warning")
running=""  # pid of the pgbench in progress, stopped first on Ctrl-C / kill
cleanup() {
  [[ -n "$running" ]] && { kill "$running" 2>/dev/null; wait "$running" 2>/dev/null || true; }
  "${quiet[@]}" dropdb --if-exists --force "$db" || echo "pgbench.sh: could not drop database $db" >&2
}
log=$(mktemp)
trap 'cleanup; rm -f "$log"' EXIT
trap 'exit 130' INT TERM
# Left over from an interrupted run? The name is reserved for this script, so drop it.
"${quiet[@]}" dropdb --if-exists --force "$db"
createdb "$db"

# Runs pgbench in the background and waits, so that a signal is handled at once.
run_pgbench() {
  pgbench "$@" >"$log" 2>&1 &
  running=$!
  wait "$running" || { cat "$log" >&2; running=""; exit 1; }
  running=""
}

echo "pgbench ceiling on $PGUSER@$PGHOST:$PGPORT/$db: scale $scale, $seconds s per run, clients: $clients"
run_pgbench -i -q -s "$scale" "$db"
tail -n 1 "$log"

for c in $clients; do
  j=$(( jobs < c ? jobs : c ))
  run_pgbench -c "$c" -j "$j" -T "$seconds" "$db"
  grep '^tps' "$log" | sed "s/^/-c $c -j $j -T $seconds: /"
  grep -m1 '^latency average' "$log" | sed 's/^/    /' || true
done
