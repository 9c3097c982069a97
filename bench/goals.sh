#!/usr/bin/env bash
# Every figure docs/benchmarks.md reports against the goals, in one run, next to the
# PostgreSQL ceiling measured in the same run:
#   1. pgbench -c 8 -j 2 -T 30 (bench/pgbench.sh)
#   2. single events, C = 8, 2 workers (bench/ingest.py --mode single)
#   3. batches of 1,000, C = 2, 2 workers (bench/ingest.py --mode batch)
#   4. memory over a long batch run (MEMORY_SECONDS, default 180), then verify-ledger
#   5. the shop-history replay on PostgreSQL and on SQLite (bench/replay.py)
# Needs a virtualenv with `pip install -e '.[dev]'` activated, PostgreSQL at
# postgres@127.0.0.1:5432 (trust auth) and its client tools. Uses the scratch databases
# patron_bench and patron_replay, dropped and created again. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pg="postgresql://postgres@127.0.0.1:5432"
seconds="${SECONDS_PER_PHASE:-30}"
memory_seconds="${MEMORY_SECONDS:-180}"
workers="${WORKERS:-2}"
port="${PORT:-8765}"
out="$(mktemp -d)"
server=""
cleanup() { [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT

step() { printf '\n=== %s ===\n' "$*"; }

step "1. pgbench ceiling"
bench/pgbench.sh

step "2-4. ingest on PostgreSQL ($workers workers)"
export PATRON_DATABASE_URL="$pg/patron_bench"
dropdb -h 127.0.0.1 -U postgres --if-exists patron_bench
createdb -h 127.0.0.1 -U postgres patron_bench
patron migrate >/dev/null
patron tenants create bench >/dev/null
export PATRON_API_KEY="$(patron keys create --tenant bench)"
PATRON_JOBS_INTERVAL=0 patron serve --workers "$workers" --port "$port" >"$out/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
url="http://127.0.0.1:$port"
python bench/ingest.py --url "$url" --mode single -c 8 --duration "$seconds" --ensure-program \
  --pid "$server" --label "postgresql, $workers workers"
python bench/ingest.py --url "$url" --mode batch -c 2 --duration "$seconds" --pid "$server" \
  --label "postgresql, $workers workers"
python bench/ingest.py --url "$url" --mode batch -c 2 --duration "$memory_seconds" \
  --progress 30 --pid "$server" --label "memory, postgresql, $workers workers"
kill "$server"; wait "$server" 2>/dev/null || true; server=""
step "verify-ledger over everything the ingest runs wrote"
time patron verify-ledger

step "5. replay of a shop's history, PostgreSQL"
python bench/replay.py --database-url "$pg/patron_replay" --workers "$workers"
step "5. replay of a shop's history, SQLite"
python bench/replay.py --database-url "sqlite:///$out/replay.db" --workers 1
